"""The browser side of OpenID Connect sign-in: ``/login/oidc/{provider}`` sends the browser to the provider,
``/login/oidc/{provider}/callback`` brings it back signed in. No SQL here (identity.oidc does the work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from healthgate.config import Settings
from healthgate.errors import Unauthorized
from healthgate.identity import oidc, sessions
from healthgate.web.deps import ContextDep, SettingsDep
from healthgate.web.templates import env, render

router = APIRouter(include_in_schema=False)
CALLBACK_PATH = "/login/oidc/{provider}/callback"
STATE_PATH = "/login/oidc"  # the state cookie goes only to these routes


def redirect_uri(settings: Settings, name: str) -> str:
    """Where the provider sends the browser back: on the configured base URL, as registered at the provider."""
    return settings.base_url.rstrip("/") + CALLBACK_PATH.format(provider=name)


def _button_providers(request: Request) -> list[dict[str, str]]:
    """For templates/identity/_oidc_buttons.html: each provider's name and label, and where to come back to."""
    settings: Settings = request.app.state.settings
    back = oidc.safe_next(request.query_params.get("next"))
    return [{"name": name, "label": p.label, "next": back} for name, p in oidc.providers(settings)]


env.globals["oidc_providers"] = _button_providers


@router.get("/login/oidc/{provider}")
def start(request: Request, provider: str, settings: SettingsDep, ctx: ContextDep,
          next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
          link: bool = False) -> Response:
    """Off to the provider. ``?link=1`` from a signed-in person links the provider to their account."""
    if link and ctx.actor.user_id is None:
        raise Unauthorized("sign in first, then link another way of signing in to your account")
    url, pending = oidc.begin(settings, provider, redirect_uri(settings, provider), next_path, ctx.now(),
                              link_user=ctx.actor.user_id if link else None)
    response = RedirectResponse(url, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(oidc.STATE_COOKIE, oidc.pack(settings, pending), max_age=oidc.STATE_MAX_AGE,
                        path=STATE_PATH, httponly=True, samesite="lax", secure=sessions.secure_cookies(settings))
    return response


def _done(response: Response, settings: Settings) -> Response:
    """Every answer to a callback: never cached, and the state cookie is spent (one flow, one use)."""
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(oidc.STATE_COOKIE, path=STATE_PATH, httponly=True, samesite="lax",
                           secure=sessions.secure_cookies(settings))
    return response


@router.get(CALLBACK_PATH)
def callback(request: Request, provider: str, settings: SettingsDep, ctx: ContextDep) -> Response:
    """Back from the provider: check its answer, then sign the person in (or link the provider to the
    signed-in person who asked for it)."""
    config = oidc.provider(settings, provider)
    params = {k: v[:4000] for k, v in request.query_params.items()}
    try:
        pending = oidc.unpack(settings, request.cookies.get(oidc.STATE_COOKIE), provider, ctx.now())
        claims = oidc.finish(settings, provider, pending, params, redirect_uri(settings, provider))
        if pending.link is not None:
            oidc.link(ctx, provider, config.label, claims, pending)
            return _done(RedirectResponse(pending.next, status_code=303), settings)  # still signed in as before
        user = oidc.sign_in(ctx, provider, config.label, claims)
    except (oidc.SignInFailed, oidc.ProviderUnavailable) as exc:
        ctx.session.rollback()  # nothing of a failed sign-in is kept
        return _done(render(request, "identity/oidc_failed.html", status_code=exc.status, label=config.label,
                            provider=provider, reason=exc.detail), settings)
    old = request.cookies.get(sessions.COOKIE)
    if old:
        sessions.end(ctx, old)  # a new sign-in never continues an earlier session (no fixation)
    response = RedirectResponse(pending.next, status_code=303)
    sessions.set_cookie(response, sessions.start(ctx, user, f"oidc:{provider}"), settings)
    return _done(response, settings)
