"""HTTP plumbing shared by the JSON API: absolute links, paging, entity tags and preconditions."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlencode

from fastapi import Request, Response

from healthgate.errors import FieldError, PreconditionFailed, UnsupportedMediaType
from healthgate.web.templates import site_url

IMMUTABLE_MAX_AGE = 86_400
JSON_TYPES = re.compile(r"^application/([a-z0-9.!#$&^_-]+\+)?json$")


def absolute(request: Request, path: str, params: list[tuple[str, str]] | None = None) -> str:
    """An absolute URL on this site: on HEALTHGATE_BASE_URL when it is set, else on the address the request
    came in on, whose Host the trusted-hosts check has already accepted."""
    base = site_url(request)
    query = f"?{urlencode(params)}" if params else ""
    return f"{base}{path}{query}"


def page_links(request: Request, page: int, per_page: int, total: int) -> tuple[str | None, str | None]:
    """``next``/``prev`` URLs of a paged list: the same path and query with another ``page``."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

    def at(n: int) -> str:
        return absolute(request, request.url.path, [*kept, ("page", str(n))])

    last = max(1, -(-total // per_page))
    nxt = at(page + 1) if page < last else None
    prev = at(min(page - 1, last)) if page > 1 else None
    return nxt, prev


def link_header(response: Response, nxt: str | None, prev: str | None) -> None:
    links = [f'<{url}>; rel="{rel}"' for rel, url in (("next", nxt), ("prev", prev)) if url]
    if links:
        response.headers["Link"] = ", ".join(links)


def content_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def dataset_etag(row_version: int, latest_version: int) -> str:
    """A dataset's entity tag: changes whenever its row (draft, status, latest version) changes."""
    return f'"r{row_version}.v{latest_version}"'


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def not_modified(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` (weak comparison) names the current entity tag."""
    if not header:
        return False
    tags = _tags(header)
    return "*" in tags or etag.removeprefix("W/") in tags


def check_if_match(header: str | None, etag: str) -> None:
    """412 unless ``If-Match`` (when sent) names the current entity tag (strong comparison)."""
    if header is None:
        return
    tags = [t.strip() for t in header.split(",") if t.strip()]
    if "*" in tags or etag in tags:
        return
    raise PreconditionFailed("the resource changed since you read it; read it again and retry",
                             [FieldError("header.if-match", f"{header[:100]} does not match the current {etag}")])


def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON (``application/json`` or ``application/*+json``)."""
    declared = request.headers.get("content-type", "")
    media = declared.split(";", 1)[0].strip().lower()
    if not JSON_TYPES.match(media):
        shown = repr(declared[:100]) if declared else "no content type"
        raise UnsupportedMediaType(f"send the document as application/json, not {shown}",
                                   [FieldError("header.content-type", f"{shown} is not JSON; use application/json")])
