"""What the researcher's pages share: sending anonymous people to sign in (and back), reading ids and versions
from forms, an error summary of messages by field (``web.posted.by_field``), and the header's basket count. No SQL
here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse

from healthgate.context import Context
from healthgate.db import transaction
from healthgate.errors import FieldError, Invalid, NotFound
from healthgate.web.http import absolute
from healthgate.web.posted import Posted


def signed_in(ctx: Context) -> bool:
    return ctx.actor.authenticated and ctx.actor.user_id is not None


def safe_next(target: str | None) -> str | None:
    """A local path to go back to; anything else (another site, ``//evil``) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def to_sign_in(request: Request, back: str | None = None) -> RedirectResponse:
    """303 to the sign-in page, which comes back to ``back`` (default: this page) afterwards."""
    target = safe_next(back) or here(request)
    return RedirectResponse(absolute(request, "/login?" + urlencode({"next": target})), status_code=303)


def see_other(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(absolute(request, path), status_code=303)


def parse_id(raw: str | None, what: str = "page") -> uuid.UUID:
    """An id from the address or a form; anything else names nothing (404)."""
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise NotFound(f"no {what} {str(raw)[:60]!r}") from None


def ids(values: Iterable[str], path: str) -> list[uuid.UUID]:
    out = []
    for i, v in enumerate(values):
        try:
            out.append(uuid.UUID(v.strip()))
        except ValueError:
            raise Invalid("not a dataset id", [FieldError(f"{path}/{i}", "not a dataset id")]) from None
    return out


def version(posted: Posted) -> int | None:
    """The application version a command form read (its hidden ``version`` field)."""
    raw = posted.one("version").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid("version must be a number", [FieldError("version", "a whole number")]) from None


def summary(errors: Mapping[str, list[str]], names: Mapping[str, str] | None = None,
            anchor: str = "f-") -> list[dict[str, str]]:
    """An error summary: each message with the field it links to (``#f-<path>``; ``form``: the whole form)."""
    out = []
    for path, msgs in errors.items():
        key = path.split("/")[0]
        linked = path != "form"
        out += [{"href": f"#{anchor}{path}" if linked else "",
                 "label": (names or {}).get(key, key.replace("_", " ")) if linked else "", "message": m}
                for m in msgs]
    return out


def as_mapping(posted: Posted) -> dict[str, Any]:
    """A posted form as the form helpers read it: each field's value, a list when it was sent more than once."""
    return {k: (v[0] if len(v) == 1 else list(v)) for k, v in posted.fields.items()}


def question_id(path: str) -> str:
    """The question a missing-answer error names (``answers/<id>``, ``q:<id>`` or the bare id)."""
    for prefix in ("answers/", "answers.", "q:"):
        if path.startswith(prefix):
            return path[len(prefix):]
    return path


def basket_count(request: Request) -> int | None:
    """How many datasets the signed-in person's basket holds (None when nobody is signed in); once per request."""
    cached = getattr(request.state, "basket_count", False)
    if cached is not False:
        return cached
    from healthgate.access import basket
    from healthgate.identity.actors import actor_for_user
    from healthgate.identity.models import User
    from healthgate.identity.pages import signed_in as person

    found: int | None = None
    me = person(request)
    if me is not None:
        with transaction(request.app.state.sessions) as session:
            user = session.get(User, me.id)
            if user is not None:
                found = basket.count(Context(session, actor_for_user(session, user), request.app.state.clock))
    request.state.basket_count = found
    return found


def first(values: Mapping[str, list[str]], name: str) -> str:
    got = values.get(name) or []
    return got[0] if got else ""
