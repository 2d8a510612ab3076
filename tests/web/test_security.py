"""CSRF on every unsafe request from a browser session (pages and API, urlencoded and multipart), cross-origin
posts refused, security headers on every kind of response, and secrets kept out of the access log."""

from __future__ import annotations

import base64
import hashlib
import logging
import re

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from healthgate.context import Context
from healthgate.identity import sessions, users
from healthgate.identity.permissions import SYSTEM
from healthgate.web import security
from healthgate.web.csrf import UNSAFE


def _signed_in(app, db, clock, admin=False) -> TestClient:
    with db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        user = users.create_user(ctx, f"{'admin' if admin else 'ann'}@example.org", "Ann", is_admin=admin,
                                 verified=True)
        value = sessions.start(ctx, user, "test")
    client = TestClient(app, follow_redirects=False)
    client.cookies.set(sessions.COOKIE, value)
    return client


def _token(client) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]{64})"', client.get("/account").text).group(1)


def test_every_unsafe_page_route_needs_the_token_with_a_session_cookie(app, db, clock):
    client = _signed_in(app, db, clock)
    token = _token(client)
    unsafe = [r for r in iter_route_contexts(app.routes) if set(r.methods or ()) & UNSAFE
              and not r.path.startswith("/api/")]
    assert len(unsafe) >= 8
    for route in unsafe:
        path = route.path.replace("{user_id}", "00000000-0000-0000-0000-000000000000")
        for method in sorted(set(route.methods or ()) & UNSAFE):
            refused = client.request(method, path, data={"csrf_token": "0" * 64})
            assert refused.status_code == 403, (method, path)
            assert "did not come from this site" in refused.text
            missing = client.request(method, path, data={})
            assert missing.status_code == 403, (method, path)
    # with the right token the request reaches its route
    assert client.post("/account/profile", data={"csrf_token": token, "name": "Ann B"}).status_code == 303


def test_multipart_forms_and_the_header_carry_the_token_too(app, db, clock):
    client = _signed_in(app, db, clock)
    token = _token(client)
    form = {"name": "Ann C", "csrf_token": token}
    ok = client.post("/account/profile", data=form, files={"upload": ("x.json", b"{}", "application/json")})
    assert ok.status_code == 303
    bad = client.post("/account/profile", data={"name": "Ann D"}, files={"upload": ("x.json", b"{}")})
    assert bad.status_code == 403
    assert client.post("/account/profile", data={"name": "Ann E"}, headers={"X-CSRF-Token": token}).status_code == 303
    assert client.post("/account/profile", data={"name": "Ann F"},
                       headers={"X-CSRF-Token": token[::-1]}).status_code == 403
    # the token is bound to the session: another person's token does not pass
    other = _signed_in(app, db, clock, admin=True)
    assert other.post("/account/profile", data={"name": "X", "csrf_token": token}).status_code == 403


def test_api_writes_authenticated_by_the_cookie_alone_are_refused(app, db, clock):
    client = _signed_in(app, db, clock, admin=True)
    r = client.post("/api/v1/datasets?team=SAIL", json={"summary": {"title": "T"}})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert "X-CSRF-Token" in r.json()["detail"]
    # with the header it is let through to the API (which then judges the document)
    r = client.post("/api/v1/datasets?team=SAIL", json={"summary": {"title": "T"}},
                    headers={"X-CSRF-Token": _token(client)})
    assert r.status_code not in (401, 403), r.text
    # a bearer token is not a browser session: no CSRF token needed, and the cookie is not used
    r = client.post("/api/v1/datasets?team=SAIL", json={}, headers={"Authorization": "Bearer hg_nonsense"})
    assert r.status_code == 401


def test_cross_origin_posts_are_refused_even_without_a_session(app):
    client = TestClient(app, follow_redirects=False)
    r = client.post("/login", data={"email": "a@example.org", "password": "x"},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    r = client.post("/login", data={"email": "a@example.org", "password": "x"}, headers={"Origin": "http://testserver"})
    assert r.status_code == 400


@pytest.mark.parametrize("path", ["/", "/search?q=asthma", "/login", "/api/v1/datasets", "/static/site.css",
                                  "/no-such-page", "/api/v1/no-such", "/robots.txt", "/api/v1/openapi.json"])
def test_security_headers_on_every_response(app, path):
    r = TestClient(app).get(path)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in r.headers  # http: no HSTS


def test_refusals_carry_the_headers_too(app, db, clock):
    client = _signed_in(app, db, clock)
    refused = client.post("/account/profile", data={})
    assert refused.status_code == 403 and "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    bad_host = TestClient(app).get("/", headers={"Host": "evil.example"})
    assert bad_host.status_code == 400 and bad_host.headers["x-content-type-options"] == "nosniff"


def test_templates_have_no_inline_script_and_the_docs_page_allows_only_its_own(app):
    from importlib import resources

    root = resources.files("healthgate.web") / "templates"
    inline = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/ld\+json)[^>]*>", re.IGNORECASE)
    handlers = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
    for path in _walk(root):
        text = path.read_text()
        assert not inline.search(text), f"inline script in {path.name}"
        assert not handlers.search(text), f"inline event handler in {path.name}"
    docs = TestClient(app).get("/api/v1/docs")
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", docs.text, re.DOTALL)
    assert scripts
    csp = docs.headers["content-security-policy"]
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "script-src 'self' 'sha256-" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]


def _walk(node):
    for child in node.iterdir():
        if child.is_dir():
            yield from _walk(child)
        elif child.name.endswith(".html"):
            yield child


def test_secrets_are_redacted_from_the_access_log(caplog):
    security.install_log_filter()
    logger = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                    "/reset-password?token=abc.DEF-123&x=1", "1.1", 200)
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                    "/login/oidc/x/callback?code=SECRETCODE&state=SECRETSTATE", "1.1", 302)
    text = caplog.text
    assert "abc.DEF-123" not in text and "SECRETCODE" not in text and "SECRETSTATE" not in text
    assert "token=[redacted]&x=1" in text
