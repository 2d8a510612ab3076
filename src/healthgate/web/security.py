"""Security headers on every response, and secrets kept out of the access log.

``SecurityHeadersMiddleware`` adds, unless a route set its own:

- ``Content-Security-Policy``: scripts, styles, images, fonts and form targets from this site only, no inline
  script, no plugins, no framing (``frame-ancestors 'none'``). The API docs page (Swagger UI starts itself
  with one inline script) is allowed exactly that script, by its SHA-256 hash.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (links in emails carry tokens in their
  query; no other site is told the address a visitor came from), ``X-Frame-Options: DENY`` for old browsers,
  ``Cross-Origin-Opener-Policy: same-origin``, a ``Permissions-Policy`` that turns off what healthgate never uses,
  and ``Strict-Transport-Security`` when the site is served over https;
- ``Cache-Control: private, no-store`` on any answer to a request that carries the session cookie (pages greet
  the signed-in person by name; no shared cache may keep them), unless the route chose its own.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# Pages whose few inline scripts are allowed by hash (they come from a library, not from us).
HASHED_PAGES = frozenset({"/api/v1/docs"})
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def base_headers(https: bool) -> list[tuple[str, str]]:
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ]
    if https:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


def csp_with_hashes(body: bytes) -> str:
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m).digest()).decode()}'"
                      for m in _INLINE_SCRIPT.findall(body))
    return (CSP.replace("script-src 'self'", f"script-src 'self' {hashes}".rstrip())
            .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"))  # Swagger UI styles itself


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, https: bool = False):
        self.app = app
        self.headers = base_headers(https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") in HASHED_PAGES:
            await self._hashed(scope, receive, send)
            return

        personal = _has_session_cookie(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                self._add(headers, CSP)
                if personal and "cache-control" not in headers:
                    headers["Cache-Control"] = "private, no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add(self, headers: MutableHeaders, csp: str) -> None:
        for name, value in self.headers:
            if name not in headers:
                headers[name] = value
        if "content-security-policy" not in headers:
            headers["Content-Security-Policy"] = csp

    async def _hashed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer a (small) page to hash its inline scripts into its policy."""
        start: Message | None = None
        body: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                assert start is not None
                whole = b"".join(body)
                self._add(MutableHeaders(scope=start), csp_with_hashes(whole))
                await send(start)
                await send({"type": "http.response.body", "body": whole, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, buffer)


def _has_session_cookie(scope: Scope) -> bool:
    from healthgate.identity.sessions import COOKIE

    for name, value in scope.get("headers") or ():
        if name == b"cookie" and COOKIE.encode() + b"=" in value:
            return True
    return False


# Query parameters and path segments that carry secrets in links (email tokens, OIDC codes and state).
_SECRET_QUERY = re.compile(r"(?i)\b(token|code|state|password|csrf_token|session)=([^&\s\"]+)")


def redact(text: str) -> str:
    return _SECRET_QUERY.sub(lambda m: f"{m.group(1)}=[redacted]", text)


class RedactSecrets(logging.Filter):
    """Removes secrets from log records (uvicorn's access log names the full path with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


_FILTER = RedactSecrets()


def install_log_filter(*names: Any) -> None:
    """Redact secrets in the access log (and any other named loggers); safe to call more than once."""
    for name in names or ("uvicorn.access", "uvicorn.error", "healthgate"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
