"""The guarded harvest client against real HTTP servers on 127.0.0.1: only configured hosts, redirects checked,
size cap, retries with a bound, rate limits honoured, each auth scheme."""

from __future__ import annotations

import gzip

import httpx
import pytest

from healthgate.federation.adapters import SourceConfig
from healthgate.federation.fetch import (
    GuardedFetch,
    Policy,
    RateLimited,
    Refused,
    TooLarge,
    Unreachable,
    rate_limit_wait,
)
from tests.federation.fakes import Answer, FakeServer, redirect


@pytest.fixture
def server():
    with FakeServer() as s:
        s.route("/ok", lambda req: Answer(200, {"ok": True}))
        yield s


def make(server, *, sleeps=None, **settings) -> GuardedFetch:
    auth = settings.pop("auth", "none")
    secret = settings.pop("secret", None)
    settings.setdefault("retries", 2)
    fetch = GuardedFetch(SourceConfig("hdruk-fma", server.url, settings), auth=auth, secret=secret,
                         sleep=(sleeps.append if sleeps is not None else lambda s: None))
    return fetch


def test_only_the_configured_host_is_contacted(server):
    with FakeServer("127.0.0.2") as other:
        other.route("/ok", lambda req: Answer(200, {}))
        fetch = make(server)
        assert fetch.get(f"{server.url}/ok").json() == {"ok": True}
        with pytest.raises(Refused, match="not the source's host"):
            fetch.get(f"{other.url}/ok")
        with pytest.raises(Refused, match="only http and https"):
            fetch.get("file:///etc/passwd")
        server.route("/away", lambda req: redirect(f"{other.url}/ok"))
        with pytest.raises(Refused, match="redirect"):
            fetch.get(f"{server.url}/away")
        assert other.requests == []
        allowed = make(server, allowed_hosts=[other.url])
        assert allowed.get(f"{server.url}/away").status_code == 200
        assert len(other.requests) == 1


def test_redirects_on_the_same_host_are_followed_and_bounded(server):
    server.route("/a", lambda req: redirect("/ok", 301))
    server.route("/loop", lambda req: redirect("/loop"))
    fetch = make(server)
    assert fetch.get(f"{server.url}/a").json() == {"ok": True}
    with pytest.raises(Refused, match="more than 5 redirects"):
        fetch.get(f"{server.url}/loop")


def test_bodies_over_the_limit_are_refused_even_compressed(server):
    server.route("/big", lambda req: Answer(200, b"x" * 5000))
    bomb = gzip.compress(b"y" * 200_000)
    server.route("/bomb", lambda req: Answer(200, bomb, {"Content-Encoding": "gzip"}))
    fetch = make(server, max_bytes=4096)
    with pytest.raises(TooLarge, match="5000 bytes"):
        fetch.get(f"{server.url}/big")
    with pytest.raises(TooLarge, match="larger than the limit"):
        fetch.get(f"{server.url}/bomb")
    small = gzip.compress(b'{"z": 1}')
    server.route("/gz", lambda req: Answer(200, small, {"Content-Encoding": "gzip"}))
    assert fetch.get(f"{server.url}/gz").json() == {"z": 1}


def test_server_errors_are_retried_with_backoff_then_returned(server):
    sleeps: list[float] = []
    server.script("/ok", Answer(500), Answer(502))
    fetch = make(server, sleeps=sleeps)
    assert fetch.get(f"{server.url}/ok").status_code == 200
    assert sleeps == [0.5, 1.0] and server.hits("/ok") == 3
    server.script("/ok", Answer(500), Answer(500), Answer(500))
    assert fetch.get(f"{server.url}/ok").status_code == 500  # after 2 retries, the caller sees the answer


def test_timeouts_and_dead_hosts_are_retried_then_raised(server):
    server.route("/slow", lambda req: Answer(200, {}, delay=2))
    fetch = make(server, timeout=1, retries=1)
    with pytest.raises(Unreachable, match="timed out after 2 attempts"):
        fetch.get(f"{server.url}/slow")
    dead = GuardedFetch(SourceConfig("hdruk-fma", "http://127.0.0.1:9", {"retries": 0}), sleep=lambda s: None)
    with pytest.raises(Unreachable, match="could not connect"):
        dead.get("http://127.0.0.1:9/datasets")


def test_429_waits_for_retry_after_and_gives_up_on_long_waits(server):
    sleeps: list[float] = []
    server.script("/ok", Answer(429, headers={"Retry-After": "3"}), Answer(503, headers={"Retry-After": "1"}))
    fetch = make(server, sleeps=sleeps)
    assert fetch.get(f"{server.url}/ok").status_code == 200
    assert sleeps == [3.0, 1.0] and fetch.waited == 4.0
    server.script("/ok", Answer(429, headers={"Retry-After": "86400"}))
    with pytest.raises(RateLimited, match="asked to wait 86400 s"):
        fetch.get(f"{server.url}/ok")
    server.script("/ok", *[Answer(429) for _ in range(20)])
    with pytest.raises(RateLimited, match="still rate limited"):
        fetch.get(f"{server.url}/ok")


def test_ratelimit_headers_make_the_next_request_wait(server):
    sleeps: list[float] = []
    server.script("/ok", Answer(200, {}, {"RateLimit-Remaining": "0", "RateLimit-Reset": "2"}))
    fetch = make(server, sleeps=sleeps)
    fetch.get(f"{server.url}/ok")
    assert sleeps == []
    fetch.get(f"{server.url}/ok")
    assert len(sleeps) == 1 and 1.5 < sleeps[0] <= 2


@pytest.mark.parametrize(("headers", "wait"), [
    ({"RateLimit-Remaining": "5", "RateLimit-Reset": "9"}, None),
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "7"}, 7.0),
    ({"RateLimit": "limit=10, remaining=0, reset=4"}, 4.0),
    ({"RateLimit": '"default";r=0;t=6'}, 6.0),
    ({}, None),
])
def test_rate_limit_header_forms(headers, wait):
    assert rate_limit_wait(httpx.Headers(headers)) == wait


def test_pacing(server):
    sleeps: list[float] = []
    fetch = make(server, sleeps=sleeps, rate_per_second=2)
    for _ in range(3):
        fetch.get(f"{server.url}/ok")
    assert len(sleeps) >= 2 and all(0 < s <= 0.5 for s in sleeps)


def test_auth_schemes(server):
    seen: list[dict[str, str]] = []
    server.route("/who", lambda req: (seen.append(req.headers), Answer(200, {}))[1])
    make(server, auth="api-key", secret="k1", api_key_header="apikey").get(f"{server.url}/who")
    assert seen[-1]["apikey"] == "k1"
    make(server, auth="bearer", secret="t1").get(f"{server.url}/who")
    assert seen[-1]["authorization"] == "Bearer t1"

    tokens: list[dict[str, str]] = []

    def token(req):
        tokens.append(req.headers)
        assert b"grant_type=client_credentials" in req.body and b"scope=read" in req.body
        return Answer(200, {"access_token": f"tok{len(tokens)}", "expires_in": 3600, "token_type": "Bearer"})

    server.route("/token", token)
    fetch = make(server, auth="oauth2", secret="s3cret", token_url=f"{server.url}/token", client_id="gw",
                 scope="read")
    fetch.get(f"{server.url}/who")
    fetch.get(f"{server.url}/who")
    assert len(tokens) == 1 and tokens[0]["authorization"].startswith("Basic ")
    assert seen[-1]["authorization"] == "Bearer tok1"
    server.script("/who", Answer(401))  # an expired token is fetched again, once
    fetch.get(f"{server.url}/who")
    assert len(tokens) == 2 and seen[-1]["authorization"] == "Bearer tok2"


def test_policy_bounds():
    p = Policy.of({"timeout": 10_000, "retries": -3, "max_bytes": "lots", "rate_per_second": 5})
    assert (p.timeout, p.retries, p.max_bytes, p.rate_per_second) == (300, 0, Policy().max_bytes, 5)
