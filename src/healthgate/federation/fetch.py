"""The guarded HTTP client a harvest hands to its adapter (``adapters.Fetch``).

What it guarantees, whatever a source answers:

- **Only configured hosts.** A request goes only to the source URL's host (scheme, host and port) and to the
  hosts its admin listed in ``settings["allowed_hosts"]`` (and the OAuth2 token URL's host). Redirects are
  followed by hand, at most ``MAX_REDIRECTS``, and only to those hosts; any other target is refused
  (``Refused``) before a connection is made.
- **Bounded size.** A body larger than ``max_bytes`` (after decompression) is cut off and refused
  (``TooLarge``); a declared ``Content-Length`` above it is refused before the body is read.
- **Bounded time.** Connect and read timeouts; a timeout or connection error is retried up to ``retries``
  times with exponential backoff, then raised (``Unreachable``).
- **Polite.** 429 and 503 answers are retried after ``Retry-After`` (seconds or an HTTP date) or, without
  one, after the backoff; ``RateLimit-Remaining: 0`` / ``RateLimit-Reset`` (and the ``X-RateLimit-*`` and
  IETF ``RateLimit: remaining=0, reset=N`` forms) make the next request wait for the window to reset; a
  wait longer than ``max_wait`` is not made: the request fails instead (``RateLimited``). ``rate_per_second``
  paces every request. Other 5xx answers are retried with backoff; the last answer is returned.
- **Authenticated** as the source says: none, an API-key header, a bearer token, or OAuth2 client
  credentials (token fetched from the token URL, cached until it expires, fetched again once on a 401).

Every failure raises a ``FetchError`` (a subclass of ``httpx.HTTPError``) whose message names the URL and the
reason; an HTTP status is never raised: the caller reads ``response.status_code``.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urljoin, urlsplit

import httpx

from healthgate.federation.adapters import SourceConfig

AUTHS = ("none", "api-key", "bearer", "oauth2")
MAX_REDIRECTS = 5
USER_AGENT = "healthgate-harvester/1 (+https://github.com/hdruk)"


class FetchError(httpx.HTTPError):
    """A request the harvester could not complete; the message says which and why."""


class Refused(FetchError):
    """A request to a host the source's admin did not allow (directly or by a redirect)."""


class TooLarge(FetchError):
    """A response larger than the size limit."""


class Unreachable(FetchError):
    """Timeouts or connection errors after every retry."""


class RateLimited(FetchError):
    """The source asked us to wait longer than we may, or kept refusing after every retry."""


@dataclass(frozen=True)
class Policy:
    timeout: float = 30.0  # seconds to connect, and between bytes read
    max_bytes: int = 16 * 1024 * 1024  # largest response body
    retries: int = 3  # extra attempts after a timeout, a connection error or a 5xx answer
    rate_limit_retries: int = 8  # extra attempts after 429 / 503 answers
    backoff: float = 0.5  # seconds before the first retry; doubled each time
    max_backoff: float = 30.0
    max_wait: float = 120.0  # longest Retry-After / RateLimit-Reset honoured; longer: the request fails
    rate_per_second: float | None = None  # pace requests (None: as fast as the source allows)

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Policy:
        """The policy a source's settings ask for (``timeout``, ``max_bytes``, ``retries``, ``max_wait``,
        ``rate_per_second``), within hard bounds."""
        base = cls()

        def num(key: str, default: float, lo: float, hi: float) -> float:
            value = settings.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                return default
            return min(max(float(value), lo), hi)

        rate = settings.get("rate_per_second")
        return cls(
            timeout=num("timeout", base.timeout, 1, 300),
            max_bytes=int(num("max_bytes", base.max_bytes, 1024, 256 * 1024 * 1024)),
            retries=int(num("retries", base.retries, 0, 10)),
            rate_limit_retries=base.rate_limit_retries,
            backoff=base.backoff,
            max_backoff=base.max_backoff,
            max_wait=num("max_wait", base.max_wait, 0, 3600),
            rate_per_second=num("rate_per_second", 1.0, 0.01, 1000) if rate is not None else None,
        )


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL (default ports made explicit), lower case."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    host = (parts.hostname or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return f"{scheme}://{host}:{port}"


def allowed_origins(source: SourceConfig) -> frozenset[str]:
    """The source URL's origin, every ``allowed_hosts`` entry (a URL, or a host name: then http and https on
    their default ports), and the OAuth2 token URL's origin."""
    found = {origin(source.url)}
    extra = source.settings.get("allowed_hosts") or []
    for entry in extra if isinstance(extra, list) else []:
        if not isinstance(entry, str) or not entry.strip():
            continue
        entry = entry.strip()
        if "://" in entry:
            found.add(origin(entry))
        else:
            found.update({origin(f"http://{entry}"), origin(f"https://{entry}")})
    token_url = source.settings.get("token_url")
    if isinstance(token_url, str) and token_url:
        found.add(origin(token_url))
    return frozenset(found)


def _seconds(value: str | None, now: Callable[[], float]) -> float | None:
    """A Retry-After value: delta seconds or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - datetime.now(UTC).timestamp())


def rate_limit_wait(headers: httpx.Headers) -> float | None:
    """Seconds to wait before the next request when the source says its window is used up, else None.
    Reads ``RateLimit-Remaining``/``RateLimit-Reset``, ``X-RateLimit-*`` and ``RateLimit: ...;r=0;t=N``."""
    remaining = headers.get("ratelimit-remaining") or headers.get("x-ratelimit-remaining")
    reset = headers.get("ratelimit-reset") or headers.get("x-ratelimit-reset")
    combined = headers.get("ratelimit")
    if combined and remaining is None:
        fields = dict(re.findall(r"\b(remaining|reset|r|t)\s*=\s*(\d+(?:\.\d+)?)", combined))
        remaining = fields.get("remaining") or fields.get("r")
        reset = fields.get("reset") or fields.get("t")
    if remaining is None:
        return None
    try:
        if float(remaining.split(",")[0]) > 0:
            return None
        wait = float((reset or "1").split(",")[0])
    except ValueError:
        return None
    if wait > 1_000_000_000:  # an epoch time (the X-RateLimit-Reset habit)
        wait = wait - time.time()
    return max(0.0, wait)


class GuardedFetch:
    """``adapters.Fetch`` for one source. Thread-safe: an adapter may fetch details concurrently."""

    def __init__(self, source: SourceConfig, *, auth: str = "none", secret: str | None = None,
                 policy: Policy | None = None, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic):
        if auth not in AUTHS:
            raise ValueError(f"unknown auth {auth!r}; one of {', '.join(AUTHS)}")
        self.source = source
        self.auth = auth
        self._secret = secret
        self.policy = policy or Policy.of(source.settings)
        self.origins = allowed_origins(source)
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._not_before = 0.0  # monotonic time before which no request starts (rate limits)
        self._last_start = 0.0
        self._token: tuple[str, float] | None = None  # OAuth2 access token and when it expires (monotonic)
        self.requests = 0
        self.waited = 0.0  # seconds spent waiting for rate limits
        timeout = httpx.Timeout(self.policy.timeout)
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport,
                                    headers={"User-Agent": USER_AGENT, "Accept": "application/json, */*;q=0.5"},
                                    trust_env=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the one public operation ------------------------------------------------------------------

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> httpx.Response:
        url = str(httpx.URL(url, params=params)) if params else url
        return self._request("GET", url, headers=dict(headers or {}))

    def post_form(self, url: str, data: Mapping[str, str], *, auth: tuple[str, str] | None = None) -> httpx.Response:
        """A form POST (the OAuth2 token request); the same guards as ``get``."""
        return self._request("POST", url, headers={}, data=dict(data), basic=auth, authenticate=False)

    # ---- internals ---------------------------------------------------------------------------------

    def _check_host(self, url: str, why: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused(f"{url}: {why}: only http and https URLs are fetched")
        if origin(url) not in self.origins:
            raise Refused(f"{url}: {why}: host {parts.hostname} is not the source's host nor one its admin "
                          f"allowed (settings.allowed_hosts)")

    def _request(self, method: str, url: str, *, headers: dict[str, str], data: dict[str, str] | None = None,
                 basic: tuple[str, str] | None = None, authenticate: bool = True) -> httpx.Response:
        self._check_host(url, "refused")
        attempts = rate_waits = 0
        refreshed = False
        while True:
            self._pace()
            sent = dict(headers)
            if authenticate:
                sent.update(self._auth_headers())
            try:
                response = self._follow(method, url, sent, data, basic)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempts < self.policy.retries:
                    self._wait(self._backoff(attempts), url)
                    attempts += 1
                    continue
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not connect"
                raise Unreachable(f"{url}: {kind} after {attempts + 1} attempts ({type(exc).__name__})") from exc
            self._note_rate_limit(response.headers)
            status = response.status_code
            if status == 401 and authenticate and self.auth == "oauth2" and not refreshed:
                self._token, refreshed = None, True
                continue
            if status in (429, 503):
                wait = _seconds(response.headers.get("retry-after"), self._monotonic)
                if wait is None:
                    wait = rate_limit_wait(response.headers)
                if wait is None:
                    wait = self._backoff(rate_waits)
                if wait > self.policy.max_wait:
                    raise RateLimited(f"{url}: the source answered {status} and asked to wait {wait:.0f} s; "
                                      f"the most this source's harvest waits is {self.policy.max_wait:.0f} s")
                if rate_waits < self.policy.rate_limit_retries:
                    rate_waits += 1
                    self._wait(wait, url)
                    continue
                if status == 429:
                    raise RateLimited(f"{url}: still rate limited (429) after {rate_waits + 1} attempts")
                return response
            if status >= 500 and attempts < self.policy.retries:
                self._wait(self._backoff(attempts), url)
                attempts += 1
                continue
            return response

    def _follow(self, method: str, url: str, headers: dict[str, str], data: dict[str, str] | None,
                basic: tuple[str, str] | None) -> httpx.Response:
        """One request, following redirects by hand to allowed hosts only."""
        for _ in range(MAX_REDIRECTS + 1):
            with self._lock:
                self.requests += 1
                self._last_start = self._monotonic()
            with self._client.stream(method, url, headers=headers, data=data,
                                     auth=httpx.BasicAuth(*basic) if basic else None) as response:
                if response.is_redirect and "location" in response.headers:
                    target = urljoin(url, response.headers["location"])
                    self._check_host(target, f"redirect from {url} refused")
                    if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                        method, data = "GET", None
                    url = target
                    continue
                return self._read(url, response)
        raise Refused(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _read(self, url: str, response: httpx.Response) -> httpx.Response:
        limit = self.policy.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"{url}: the response is {int(declared)} bytes; the limit is {limit}")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                raise TooLarge(f"{url}: the response is larger than the limit of {limit} bytes")
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=response.request)

    def _auth_headers(self) -> dict[str, str]:
        if self.auth == "none" or not self._secret and self.auth != "oauth2":
            return {}
        if self.auth == "api-key":
            name = self.source.settings.get("api_key_header") or "X-API-Key"
            return {str(name): self._secret or ""}
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {self._secret}"}
        return {"Authorization": f"Bearer {self._oauth2_token()}"}

    def _oauth2_token(self) -> str:
        with self._lock:
            token = self._token
        if token is not None and token[1] > self._monotonic():
            return token[0]
        s = self.source.settings
        token_url, client_id = s.get("token_url"), s.get("client_id")
        if not isinstance(token_url, str) or not isinstance(client_id, str):
            raise FetchError("OAuth2 needs settings.token_url and settings.client_id")
        form = {"grant_type": "client_credentials"}
        if isinstance(s.get("scope"), str) and s["scope"]:
            form["scope"] = s["scope"]
        basic: tuple[str, str] | None = (client_id, self._secret or "")
        if s.get("token_auth") == "body":  # client credentials in the form instead of HTTP Basic
            form.update({"client_id": client_id, "client_secret": self._secret or ""})
            basic = None
        response = self.post_form(token_url, form, auth=basic)
        if response.status_code != 200:
            raise FetchError(f"{token_url}: the token request answered {response.status_code}")
        try:
            payload = response.json()
            access, expires = payload["access_token"], float(payload.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(f"{token_url}: the token response has no access_token") from exc
        if not isinstance(access, str) or not access:
            raise FetchError(f"{token_url}: the token response has no access_token")
        with self._lock:
            self._token = (access, self._monotonic() + max(expires - 30, expires / 2))
        return access

    def _backoff(self, attempt: int) -> float:
        return min(self.policy.backoff * (2 ** attempt), self.policy.max_backoff)

    def _note_rate_limit(self, headers: httpx.Headers) -> None:
        wait = rate_limit_wait(headers)
        if wait is not None:
            with self._lock:
                self._not_before = max(self._not_before, self._monotonic() + min(wait, self.policy.max_wait))

    def _pace(self) -> None:
        with self._lock:
            now = self._monotonic()
            start = self._not_before
            if self.policy.rate_per_second:
                start = max(start, self._last_start + 1 / self.policy.rate_per_second)
                self._last_start = max(now, start)  # reserve the slot for this thread
            wait = start - now
        if wait > 0:
            if wait > self.policy.max_wait:
                raise RateLimited(f"the source asked to wait {wait:.0f} s; the most this harvest waits is "
                                  f"{self.policy.max_wait:.0f} s")
            self.waited += wait
            self._sleep(wait)

    def _wait(self, seconds: float, url: str) -> None:
        del url
        self.waited += seconds
        self._sleep(seconds)
