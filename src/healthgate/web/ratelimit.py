"""Per-client request limits: anonymous requests, expensive routes and failed authentications.

Limits are "N/period" strings (``60/minute``, ``1000/hour``; see the ``limits`` library), one per kind, from
settings; ``off`` disables a kind. Counters live in the configured storage (``memory://`` by default), so with the
default every server process counts on its own: N processes let a client through up to N times the limit. Point
``HEALTHGATE_RATE_LIMIT_STORAGE`` at a shared store (``redis://...``, with its driver installed) to count across
processes.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthgate.config import Settings
from healthgate.errors import FieldError, Invalid, TooManyRequests

ANONYMOUS = "anonymous"
EXPENSIVE = "expensive"
FAILED_AUTH = "failed_auth"
# Paths whose requests cost far more than a page view: search, validation and exports (the catalogue's and the
# data use register's).
EXPENSIVE_PREFIXES = ("/api/v1/search", "/api/v1/validate", "/api/v1/export", "/search", "/export",
                      "/data-uses/export")
EXEMPT_PREFIXES = ("/static",)
VERIFIED_TOKENS = 10_000


def _parse(name: str, value: str) -> RateLimitItem | None:
    if value.strip().lower() in ("", "off", "none", "0"):
        return None
    try:
        return parse(value)
    except ValueError as exc:
        setting = f"HEALTHGATE_RATE_LIMIT_{name.upper()}"
        raise Invalid(f"{setting}={value!r} is not a rate limit such as 60/minute or off",
                      [FieldError(setting, f"{value!r} is not like 60/minute")]) from exc


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_in: int  # seconds until the window frees a request

    def headers(self) -> dict[str, str]:
        out = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
               "RateLimit-Reset": str(self.reset_in)}
        if not self.allowed:
            out["Retry-After"] = str(max(1, self.reset_in))
        return out


class RateLimits:
    """The configured limits and their counters (one per application)."""

    def __init__(self, settings: Settings):
        self.items: dict[str, RateLimitItem | None] = {
            ANONYMOUS: _parse(ANONYMOUS, settings.rate_limit_anonymous),
            EXPENSIVE: _parse(EXPENSIVE, settings.rate_limit_expensive),
            FAILED_AUTH: _parse(FAILED_AUTH, settings.rate_limit_failed_auth),
        }
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        # Hashes of tokens this process has seen verified: only those lift the anonymous limit and get their own
        # expensive-route budget, so inventing tokens buys nothing. (Rate limiting only: every request's token
        # is still checked against the database.)
        self._verified: OrderedDict[str, None] = OrderedDict()

    def remember(self, token: str | bytes) -> None:
        key = token_key(token)
        self._verified[key] = None
        self._verified.move_to_end(key)
        while len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)

    def verified(self, token: bytes) -> str | None:
        """The token's key if it is known good, else None."""
        if not token:
            return None
        key = token_key(token)
        return key if key in self._verified else None

    def _verdict(self, item: RateLimitItem, kind: str, key: str, allowed: bool) -> Verdict:
        stats = self.limiter.get_window_stats(item, kind, key)
        return Verdict(allowed, item.amount, max(0, stats.remaining), max(0, math.ceil(stats.reset_time - time.time())))

    def hit(self, kind: str, key: str) -> Verdict | None:
        """Count one request of ``kind`` from ``key``; None when that kind is not limited."""
        item = self.items[kind]
        if item is None:
            return None
        return self._verdict(item, kind, key, self.limiter.hit(item, kind, key))

    def exhausted(self, kind: str, key: str) -> Verdict | None:
        """The refusal verdict if ``key`` has no request of ``kind`` left, without counting one."""
        item = self.items[kind]
        if item is None or self.limiter.test(item, kind, key):
            return None
        return self._verdict(item, kind, key, False)


def token_key(token: str | bytes) -> str:
    """A rate-limit key for a bearer token (the whole Authorization header value), never the token itself."""
    raw = token.encode("latin-1") if isinstance(token, str) else token
    return hashlib.sha256(raw).hexdigest()[:32]


def client_key(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def refuse(verdict: Verdict, what: str) -> TooManyRequests:
    return TooManyRequests(f"too many {what} from this client; retry in {max(1, verdict.reset_in)} s",
                           retry_after=max(1, verdict.reset_in), headers=verdict.headers())


class RateLimitMiddleware:
    """Counts anonymous requests and requests to expensive routes per client before any work is done."""

    def __init__(self, app: ASGIApp, limits: RateLimits, on_refusal: Any):
        self.app = app
        self.limits = limits
        self.on_refusal = on_refusal  # (request, TooManyRequests) -> Response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        sent = headers.get(b"authorization", b"")
        token = self.limits.verified(sent)
        key = client_key(scope)
        verdicts: list[tuple[str, Verdict]] = []
        # Without a token: the anonymous limit. A token not yet seen valid in this process goes on to be checked
        # (the failed-authentication limit stops invented ones), so a real one is never refused for the
        # anonymous traffic of its network.
        if not sent:
            v = self.limits.hit(ANONYMOUS, key)
            if v is not None:
                verdicts.append(("requests", v))
        if path.startswith(EXPENSIVE_PREFIXES):
            v = self.limits.hit(EXPENSIVE, token or key)
            if v is not None:
                verdicts.append(("search, validation or export requests", v))
        refused = next(((what, v) for what, v in verdicts if not v.allowed), None)
        if refused is not None:
            response = self.on_refusal(Request(scope), refuse(refused[1], refused[0]))
            await response(scope, receive, send)
            return
        if not verdicts:
            await self.app(scope, receive, send)
            return
        tightest = min((v for _, v in verdicts), key=lambda v: v.remaining)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in tightest.headers().items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
