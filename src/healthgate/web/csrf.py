"""CSRF protection for everything a browser session may change.

Every form that changes state carries ``<input type="hidden" name="csrf_token" value="{{ csrf_token(request) }}">``
(scripts send the same value as an ``X-CSRF-Token`` header). ``CSRFMiddleware`` checks every unsafe request
(POST, PUT, PATCH, DELETE) that carries the session cookie, on every route, pages and API alike, whichever part
of healthgate added the route:

- a request with an ``Authorization`` header is authenticated by its token, never by the cookie
  (``web.deps.get_actor``), so it needs no CSRF token;
- a request from another origin (its ``Origin`` header names another site) is refused, cookie or not (this also
  stops a stranger's page from signing a visitor in to the stranger's account);
- a request with the session cookie must carry the token bound to that cookie, in the header or in the form
  (urlencoded or multipart); an API write authenticated only by the cookie must send the header.

The token is an HMAC of the session cookie under the site's secret key, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthgate.errors import Forbidden, TooLarge
from healthgate.identity.sessions import COOKIE

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FIELD = "csrf_token"
HEADER = "x-csrf-token"
MAX_BODY = 64 * 1024 * 1024  # a form larger than this is refused before it is read to the end


def token_for(key: str, cookie: str) -> str:
    return hmac.new(key.encode(), b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token for this browser's session cookie (what forms carry)."""
    cookie = request.cookies.get(COOKIE) or ""
    return token_for(request.app.state.settings.effective_secret_key(), cookie)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class CSRFMiddleware:
    """A pure ASGI middleware: refuses cross-origin unsafe requests and cookie-authenticated unsafe requests
    without the right token; everything else passes through untouched (the body is replayed as it came)."""

    def __init__(self, app: ASGIApp, on_refusal: Any):
        self.app = app
        self.on_refusal = on_refusal  # (request, HealthgateError) -> Response
        self._key: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "authorization" in headers:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        settings = scope["app"].state.settings
        origin = headers.get("origin")
        if origin is not None and not self._same_origin(origin, request, settings.base_url):
            await self._refuse(scope, receive, send, "this form was sent from another site")
            return
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            await self.app(scope, receive, send)
            return
        if self._key is None:
            self._key = settings.effective_secret_key()
        expected = token_for(self._key, cookie)
        sent = headers.get(HEADER)
        if sent is not None:
            if hmac.compare_digest(sent.encode(), expected.encode()):
                await self.app(scope, receive, send)
            else:
                await self._refuse(scope, receive, send, "the X-CSRF-Token header is wrong; reload the page")
            return
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope["path"].startswith("/api/") or content_type not in (
                "application/x-www-form-urlencoded", "multipart/form-data"):
            await self._refuse(scope, receive, send, "a request signed in by a browser session must send the "
                                                     "X-CSRF-Token header (or use an API token)")
            return
        try:
            body = await self._read(receive)
        except TooLarge as exc:
            await self.on_refusal(request, exc)(scope, receive, send)
            return
        replay = _replay(body, receive)
        sent = await self._form_token(scope, replay, content_type, body)
        if sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
            await self._refuse(scope, receive, send, "this form has expired or did not come from this site: "
                                                     "reload the page and send it again")
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    def _same_origin(origin: str, request: Request, base_url: str) -> bool:
        here = {_origin(base_url), _origin(str(request.base_url))}
        return origin.lower() in here

    @staticmethod
    async def _read(receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise TooLarge(f"a form may hold at most {MAX_BODY} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    async def _form_token(scope: Scope, receive: Receive, content_type: str, body: bytes) -> str | None:
        if content_type == "application/x-www-form-urlencoded":
            values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FIELD)
            return values[0] if values else None
        form = await Request(scope, receive).form()
        try:
            value = form.get(FIELD)
            return value if isinstance(value, str) else None
        finally:
            await form.close()

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, detail: str) -> None:
        response = self.on_refusal(Request(scope, receive), Forbidden(detail))
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that answers the buffered body once, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
