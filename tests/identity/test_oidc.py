"""OpenID Connect sign-in, end to end: healthgate served by uvicorn on 127.0.0.1 and a real Authlib-built
provider (tests/identity/oidc_provider.py) on another port, the flow driven over HTTP with httpx, following
every redirect by hand. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from sqlalchemy import func, select

from healthgate.app import create_app
from healthgate.audit.models import AuditEvent
from healthgate.clock import FixedClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import transaction
from healthgate.identity import oidc, sessions, users
from healthgate.identity.models import LoginSession, OidcIdentity, User
from healthgate.identity.permissions import SYSTEM
from tests.identity.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running_provider

PROVIDER = "uni"


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with running_provider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _fresh_provider_state(idp: Provider) -> None:
    idp.people.clear()
    idp.codes.clear()
    idp.token_requests.clear()
    idp.tamper = None
    idp.drop_email_from_id_token = False
    oidc.clear_cache()


@dataclass
class Site:
    url: str
    settings: Settings
    db: Any
    clock: FixedClock

    def scalar(self, stmt):
        with transaction(self.db.sessions) as s:
            return s.scalar(stmt)

    def count(self, model) -> int:
        return self.scalar(select(func.count()).select_from(model))


@pytest.fixture
def site(db, tmp_path, idp: Provider) -> Iterator[Site]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        data_dir=tmp_path, database_url=db.url, base_url=url, secret_key="test-secret-" + "k" * 32,
        rate_limit_anonymous="off", worker="off",  # no outbox here: no periodic jobs competing for the database
        oidc_providers={PROVIDER: {"label": "University Login", "issuer": idp.issuer, "client_id": CLIENT_ID,
                                   "client_secret": CLIENT_SECRET}})
    idp.register(f"{url}/login/oidc/{PROVIDER}/callback")
    clock = FixedClock(time_now())
    server = uvicorn.Server(uvicorn.Config(create_app(settings, clock=clock), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.025)
    yield Site(url, settings, db, clock)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def time_now():
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(microsecond=0)


def person(idp: Provider, sub: str, email: str, *, verified: bool = True, name: str = "Ada Lovelace") -> None:
    idp.people[sub] = {"email": email, "email_verified": verified, "name": name}


@dataclass
class Flow:
    authorize_url: str
    state_cookie: str
    callback_url: str


def to_provider(browser: httpx.Client, site: Site, next_path: str | None = None,
                link: bool = False) -> tuple[str, str]:
    """Start a sign-in at healthgate: the provider's authorisation URL and the state cookie it set."""
    params = {**({"next": next_path} if next_path else {}), **({"link": "1"} if link else {})}
    query = f"?{urlencode(params)}" if params else ""
    r = browser.get(f"{site.url}/login/oidc/{PROVIDER}{query}")
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{oidc.STATE_COOKIE}=")
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/login/oidc"} <= flags
    return r.headers["location"], browser.cookies[oidc.STATE_COOKIE]


def at_provider(authorize_url: str, sub: str) -> str:
    """Sign in at the provider (its form), and return where it sends the browser back."""
    page = httpx.get(authorize_url)
    assert page.status_code == 200, page.text
    assert "<form" in page.text
    back = httpx.post(authorize_url, data={"sub": sub})
    assert back.status_code == 302, back.text
    return back.headers["location"]


def flow(browser: httpx.Client, site: Site, sub: str, next_path: str | None = None) -> Flow:
    authorize_url, state_cookie = to_provider(browser, site, next_path)
    return Flow(authorize_url, state_cookie, at_provider(authorize_url, sub))


def session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{sessions.COOKIE}="):
            return header
    return None


def signed_in_user(site: Site, browser: httpx.Client) -> User | None:
    """Who the browser's session cookie signs in, as healthgate sees it."""
    value = browser.cookies.get(sessions.COOKIE)
    with transaction(site.db.sessions) as s:
        row = sessions.lookup(Context(s, SYSTEM, site.clock), value)
        if row is None:
            return None
        user = s.get(User, row.user_id)
        s.expunge(user)
        return user


# --- the happy paths ----------------------------------------------------------------------------------------


def test_first_sign_in_creates_an_account_then_signs_the_same_person_in(site, idp):
    person(idp, "sub-ada", "Ada@Example.org")
    with httpx.Client(timeout=30) as browser:
        f = flow(browser, site, "sub-ada", next_path="/search?q=asthma")
        query = parse_qs(urlsplit(f.authorize_url).query)
        # The authorisation request: code flow, PKCE S256, state and nonce, our registered redirect URI.
        assert query["response_type"] == ["code"]
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == [f"{site.url}/login/oidc/{PROVIDER}/callback"]
        assert query["state"][0] and query["nonce"][0]
        assert query["state"][0] not in f.state_cookie or len(query["state"][0]) >= 32
        assert f.callback_url.startswith(f"{site.url}/login/oidc/{PROVIDER}/callback?")

        done = browser.get(f.callback_url)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/search?q=asthma"
        cookie = session_cookie(done)
        assert cookie is not None
        flags = {x.strip().lower() for x in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/"} <= flags
        assert "secure" not in flags  # the base URL is http
        assert oidc.STATE_COOKIE not in browser.cookies  # the state cookie is cleared: one use

        # The token request carried the PKCE verifier whose S256 is the challenge sent to the provider.
        [token_request] = idp.token_requests
        digest = hashlib.sha256(token_request["code_verifier"].encode()).digest()
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"][0]

        user = signed_in_user(site, browser)
        assert user is not None and user.email == "Ada@Example.org" and user.name == "Ada Lovelace"
        assert user.email_verified_at is not None and user.password_hash is None
        identity = site.scalar(select(OidcIdentity))
        assert (identity.provider, identity.subject, identity.user_id) == (PROVIDER, "sub-ada", user.id)
        assert site.scalar(select(LoginSession.method)) == f"oidc:{PROVIDER}"
        linked = site.scalar(select(AuditEvent).where(AuditEvent.action == "user.oidc_linked"))
        assert linked.subject_id == str(user.id) and linked.data["account_created"] is True
        assert site.count(AuditEvent) >= 3  # created, linked, session started
        # No secret of the flow reaches the audit log: not the code, state, nonce, verifier or session.
        with transaction(site.db.sessions) as s:
            logged = repr([(e.actor, e.data) for e in s.scalars(select(AuditEvent))])
        secrets_of_the_flow = [query["state"][0], query["nonce"][0], token_request["code"],
                               token_request["code_verifier"], browser.cookies[sessions.COOKIE], CLIENT_SECRET]
        assert not [x for x in secrets_of_the_flow if x in logged]

    # A second sign-in (another browser) is the same person: no new account, no new link.
    with httpx.Client(timeout=30) as other:
        done = other.get(flow(other, site, "sub-ada").callback_url)
        assert done.status_code == 303 and done.headers["location"] == "/"
        again = signed_in_user(site, other)
        assert again is not None and again.id == user.id
    assert (site.count(User), site.count(OidcIdentity), site.count(LoginSession)) == (1, 1, 2)


def test_first_sign_in_links_an_account_with_the_same_verified_address(site, idp):
    with transaction(site.db.sessions) as s:
        existing = users.create_user(Context(s, SYSTEM, site.clock), "grace@example.org", "Grace Hopper",
                                     verified=True)
        existing_id = existing.id
    person(idp, "sub-grace", "GRACE@example.org", name="G. Hopper")
    with httpx.Client(timeout=30) as browser:
        done = browser.get(flow(browser, site, "sub-grace").callback_url)
        assert done.status_code == 303, done.text
        user = signed_in_user(site, browser)
    assert user is not None and user.id == existing_id and user.name == "Grace Hopper"
    assert site.count(User) == 1
    assert site.scalar(select(OidcIdentity.user_id)) == existing_id
    linked = site.scalar(select(AuditEvent).where(AuditEvent.action == "user.oidc_linked"))
    assert linked.data["account_created"] is False


def test_the_provider_rotating_its_key_is_followed(site, idp):
    person(idp, "sub-ada", "ada@example.org")
    with httpx.Client(timeout=30) as browser:
        assert browser.get(flow(browser, site, "sub-ada").callback_url).status_code == 303  # keys now cached
    idp.rotate()
    with httpx.Client(timeout=30) as browser:
        done = browser.get(flow(browser, site, "sub-ada").callback_url)
        assert done.status_code == 303, done.text
    assert site.count(LoginSession) == 2


def test_email_from_the_userinfo_endpoint_when_the_id_token_has_none(site, idp):
    person(idp, "sub-kat", "kat@example.org", name="Katherine Johnson")
    idp.drop_email_from_id_token = True
    with httpx.Client(timeout=30) as browser:
        done = browser.get(flow(browser, site, "sub-kat").callback_url)
        assert done.status_code == 303, done.text
        user = signed_in_user(site, browser)
    assert user is not None and user.email == "kat@example.org"


def test_a_signed_in_person_links_a_provider_that_shares_no_email(site, idp):
    idp.people["0000-0002-1825-0097"] = {"name": "Josiah Carberry"}  # like ORCID: a subject, no address
    with httpx.Client(timeout=30) as stranger:  # without an address, a first sign-in cannot know who this is
        assert_refused(stranger.get(flow(stranger, site, "0000-0002-1825-0097").callback_url), site,
                       "did not share your email address")
    with transaction(site.db.sessions) as s:
        ctx = Context(s, SYSTEM, site.clock)
        josiah = users.create_user(ctx, "josiah@example.org", "Josiah Carberry", verified=True)
        other = users.create_user(ctx, "other@example.org", "Someone Else", verified=True)
        cookie = sessions.start(ctx, josiah, "password")
        other_cookie = sessions.start(ctx, other, "password")
    with httpx.Client(timeout=30) as anonymous:
        assert anonymous.get(f"{site.url}/login/oidc/{PROVIDER}?link=1").status_code == 401
    with httpx.Client(cookies={sessions.COOKIE: cookie}) as browser:
        authorize_url, _ = to_provider(browser, site, next_path="/account", link=True)
        done = browser.get(at_provider(authorize_url, "0000-0002-1825-0097"))
        assert done.status_code == 303 and done.headers["location"] == "/account"
        assert session_cookie(done) is None  # still the same session
        assert browser.cookies[sessions.COOKIE] == cookie
    identity = site.scalar(select(OidcIdentity))
    assert (identity.user_id, identity.subject, identity.email) == (josiah.id, "0000-0002-1825-0097", None)
    assert site.count(LoginSession) == 2
    # From now on the provider signs Josiah in.
    with httpx.Client(timeout=30) as browser:
        assert browser.get(flow(browser, site, "0000-0002-1825-0097").callback_url).status_code == 303
        assert signed_in_user(site, browser).id == josiah.id
    # Nobody else can link the same provider account to theirs.
    with httpx.Client(cookies={sessions.COOKIE: other_cookie}) as browser:
        authorize_url, _ = to_provider(browser, site, link=True)
        assert_refused(browser.get(at_provider(authorize_url, "0000-0002-1825-0097")), site,
                       "already linked to another healthgate account")
    # A link started by one person cannot be finished in another person's session.
    with httpx.Client(cookies={sessions.COOKIE: cookie}) as browser:
        authorize_url, state = to_provider(browser, site, link=True)
        answer = at_provider(authorize_url, "0000-0002-1825-0097")
    with httpx.Client(cookies={sessions.COOKIE: other_cookie, oidc.STATE_COOKIE: state}) as browser:
        assert_refused(browser.get(answer), site, "not the one who asked to link")
    assert site.count(OidcIdentity) == 1


# --- refusals -----------------------------------------------------------------------------------------------


def assert_refused(response: httpx.Response, site: Site, says: str) -> None:
    assert response.status_code == 400, response.text
    assert "Sign-in with University Login failed" in response.text
    assert says in response.text
    assert session_cookie(response) is None


def test_a_replayed_code_is_refused(site, idp):
    person(idp, "sub-ada", "ada@example.org")
    with httpx.Client(timeout=30) as browser:
        f = flow(browser, site, "sub-ada")
        assert browser.get(f.callback_url).status_code == 303
    assert site.count(LoginSession) == 1
    # The same answer again, with the state cookie it came with (an attacker who saw the URL and the cookie):
    # the provider refuses the used code, so nobody is signed in a second time.
    with httpx.Client(cookies={oidc.STATE_COOKIE: f.state_cookie}) as attacker:
        replay = attacker.get(f.callback_url)
    assert_refused(replay, site, "refused the authorisation code (invalid_grant)")
    assert len(idp.token_requests) == 2
    assert site.count(LoginSession) == 1


def test_a_tampered_state_is_refused_before_the_code_is_redeemed(site, idp):
    person(idp, "sub-ada", "ada@example.org")
    with httpx.Client(timeout=30) as browser:
        f = flow(browser, site, "sub-ada")
        parts = urlsplit(f.callback_url)
        query = parse_qs(parts.query)
        query["state"] = [query["state"][0][:-2] + ("AA" if not query["state"][0].endswith("AA") else "BB")]
        tampered = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        assert_refused(browser.get(tampered), site, "its state differs")
        assert idp.token_requests == []  # the code never left healthgate
        assert oidc.STATE_COOKIE not in browser.cookies  # and this browser must start again
    # A forged state cookie (the state copied into an unsigned or re-signed record) is refused too.
    forged = f.state_cookie.rpartition(".")[0] + "." + "0" * 64
    with httpx.Client(cookies={oidc.STATE_COOKIE: forged}) as attacker:
        assert_refused(attacker.get(f.callback_url), site, "has been altered")
    # An error answer that is not about this browser's sign-in says so (and nothing else).
    with httpx.Client(cookies={oidc.STATE_COOKIE: f.state_cookie}) as browser:
        forged_error = f"{site.url}/login/oidc/{PROVIDER}/callback?error=server_error&state=forged"
        assert_refused(browser.get(forged_error), site, "its state differs")
    # Without the cookie that started it (login CSRF: someone else's answer pushed into this browser).
    with httpx.Client(timeout=30) as victim:
        assert_refused(victim.get(f.callback_url), site, "did not start a sign-in")
    assert idp.token_requests == []
    assert (site.count(User), site.count(LoginSession)) == (0, 0)


@pytest.mark.parametrize(("tamper", "says"), [
    ("nonce", "is not valid (nonce)"), ("aud", "is not valid (aud)"), ("iss", "is not valid (iss)"),
    ("signature", "is not valid (bad_signature)"), ("expired", "is not valid (exp)"),
])
def test_a_bad_id_token_signs_nobody_in(site, idp, tamper, says):
    person(idp, "sub-ada", "ada@example.org")
    idp.tamper = tamper
    with httpx.Client(timeout=30) as browser:
        assert_refused(browser.get(flow(browser, site, "sub-ada").callback_url), site, says)
    assert (site.count(User), site.count(OidcIdentity), site.count(LoginSession)) == (0, 0, 0)


def test_the_provider_enforces_pkce_so_a_stolen_code_is_useless_without_the_verifier(site, idp):
    person(idp, "sub-ada", "ada@example.org")
    with httpx.Client(timeout=30) as browser:
        f = flow(browser, site, "sub-ada")
    code = parse_qs(urlsplit(f.callback_url).query)["code"][0]
    stolen = httpx.post(f"{idp.issuer}/token", auth=(CLIENT_ID, CLIENT_SECRET), data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": f"{site.url}/login/oidc/{PROVIDER}/callback", "code_verifier": "x" * 64})
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    parts = urlsplit(f.authorize_url)
    query = {k: v for k, v in parse_qs(parts.query).items() if not k.startswith("code_challenge")}
    query["nonce"] = ["a-fresh-nonce"]
    no_pkce = httpx.get(urlunsplit(parts._replace(query=urlencode(query, doseq=True))))
    assert no_pkce.status_code == 400 and "PKCE is required" in no_pkce.text


def test_a_sign_in_that_took_too_long_is_refused(site, idp):
    person(idp, "sub-ada", "ada@example.org")
    with httpx.Client(timeout=30) as browser:
        f = flow(browser, site, "sub-ada")
        site.clock.advance(seconds=oidc.STATE_MAX_AGE + 1)
        assert_refused(browser.get(f.callback_url), site, "took too long")
    assert idp.token_requests == []


def test_an_unverified_existing_account_is_not_taken_over(site, idp):
    with transaction(site.db.sessions) as s:
        users.create_user(Context(s, SYSTEM, site.clock), "ada@example.org", "Someone Else", verified=False)
    person(idp, "sub-ada", "ada@example.org")
    with httpx.Client(timeout=30) as browser:
        refused = browser.get(flow(browser, site, "sub-ada").callback_url)
    assert_refused(refused, site, "has not been verified there yet")
    assert (site.count(User), site.count(OidcIdentity), site.count(LoginSession)) == (1, 0, 0)


def test_an_address_the_provider_has_not_verified_makes_no_account(site, idp):
    person(idp, "sub-ada", "ada@example.org", verified=False)
    with httpx.Client(timeout=30) as browser:
        refused = browser.get(flow(browser, site, "sub-ada").callback_url)
    assert_refused(refused, site, "has not verified your email address")
    assert (site.count(User), site.count(OidcIdentity)) == (0, 0)


def test_a_disabled_account_cannot_sign_in(site, idp):
    person(idp, "sub-ada", "ada@example.org")
    with httpx.Client(timeout=30) as browser:
        assert browser.get(flow(browser, site, "sub-ada").callback_url).status_code == 303
    with transaction(site.db.sessions) as s:
        s.scalar(select(User)).disabled_at = site.clock.now()
    with httpx.Client(timeout=30) as browser:
        assert_refused(browser.get(flow(browser, site, "sub-ada").callback_url), site, "disabled")
    assert site.count(LoginSession) == 1


def test_the_provider_refusing_is_shown(site, idp):
    with httpx.Client(timeout=30) as browser:
        authorize_url, _ = to_provider(browser, site)
        back = httpx.post(authorize_url, data={"sub": "nobody-here"})  # the person cancels at the provider
        assert back.status_code == 302
        assert_refused(browser.get(back.headers["location"]), site, "access_denied")


def test_unknown_provider_and_open_redirects(site):
    with httpx.Client(timeout=30) as browser:
        assert browser.get(f"{site.url}/login/oidc/nope").status_code == 404
        assert browser.get(f"{site.url}/login/oidc/nope/callback?code=x&state=y").status_code == 404
        r = browser.get(f"{site.url}/login/oidc/{PROVIDER}", params={"next": "https://evil.example/"})
        assert r.status_code == 303
        pending = oidc.unpack(site.settings, browser.cookies[oidc.STATE_COOKIE], PROVIDER, site.clock.now())
        assert pending.next == "/"


def test_an_unreachable_provider_is_a_clear_error(db, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="k" * 40, oidc_providers={
        "gone": {"label": "Gone", "issuer": "http://127.0.0.1:9", "client_id": "x"}})
    from fastapi.testclient import TestClient

    oidc.clear_cache()
    with TestClient(create_app(settings)) as client:
        r = client.get("/login/oidc/gone", follow_redirects=False)
    assert r.status_code == 502
    assert "discovery document" in r.text


# --- pieces -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "kept"), [
    ("/workspace", "/workspace"), ("/search?q=a&page=2", "/search?q=a&page=2"), (None, "/"), ("", "/"),
    ("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"), ("javascript:x", "/"),
    ("/ok\r\nSet-Cookie: x=y", "/"),
])
def test_safe_next(given, kept):
    assert oidc.safe_next(given) == kept


def test_cookies_are_secure_when_the_site_is_https(tmp_path):
    from starlette.responses import Response

    from healthgate.identity import sessions

    for base, secure in (("https://gateway.example.org", True), ("http://127.0.0.1:8000", False)):
        response = Response()
        sessions.set_cookie(response, "value", Settings(data_dir=tmp_path, base_url=base))
        flags = {f.strip().lower() for f in response.headers["set-cookie"].split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/"} <= flags
        assert ("secure" in flags) is secure


def test_claims_from_the_provider():
    c = oidc._claims({"sub": "s", "email": " a@example.org ", "email_verified": "true",
                      "given_name": "Ada", "family_name": "Lovelace"})
    assert (c.subject, c.email, c.email_verified, c.name) == ("s", "a@example.org", True, "Ada Lovelace")
    assert oidc._claims({"sub": "s", "email": "a@example.org"}).email_verified is False
    assert oidc._claims({"sub": "s", "email": "a@example.org", "email_verified": False}).email_verified is False
    assert oidc._claims({"sub": "s", "email": "a@example.org"}, trust_email=True).email_verified is True
    assert oidc._claims({"sub": "s"}, trust_email=True).email_verified is False
    assert oidc._claims({"sub": "s", "preferred_username": "ada"}).name == "ada"


def test_provider_settings_are_checked(tmp_path, monkeypatch):
    good = {"label": "Uni", "issuer": "https://login.example.ac.uk", "client_id": "c"}
    monkeypatch.setenv("HEALTHGATE_OIDC_PROVIDERS", '{"uni": {"label": "Uni", "issuer": '
                                                    '"https://login.example.ac.uk", "client_id": "c"}}')
    assert Settings(data_dir=tmp_path).oidc_providers["uni"].scopes == "openid email profile"
    configured = Settings(data_dir=tmp_path, oidc_providers={"uni": {**good, "client_secret": "hush-hush"}})
    assert configured.oidc_providers["uni"].client_secret.get_secret_value() == "hush-hush"
    assert "hush-hush" not in repr(configured) and "hush-hush" not in str(configured.oidc_providers)
    monkeypatch.delenv("HEALTHGATE_OIDC_PROVIDERS")
    for bad in ({"Bad Name": good}, {"uni": {**good, "scopes": "email profile"}},
                {"uni": {**good, "issuer": "login.example.ac.uk"}}, {"uni": {**good, "extra": 1}},
                {"uni": {**good, "issuer": "http://login.example.ac.uk"}}):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, oidc_providers=bad)


def test_sign_in_buttons_list_the_providers(tmp_path):
    from types import SimpleNamespace

    from starlette.datastructures import QueryParams

    from healthgate.identity import oidc_pages  # noqa: F401  (registers the template global)
    from healthgate.web.templates import env

    settings = Settings(data_dir=tmp_path, oidc_providers={
        "uni": {"label": "University <Login>", "issuer": "https://login.example.ac.uk", "client_id": "c"},
        "orcid": {"label": "ORCID", "issuer": "https://orcid.org", "client_id": "c"}})
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings)),
                              query_params=QueryParams("next=/workspace"))
    html = env.get_template("identity/_oidc_buttons.html").render(request=request)
    assert 'href="/login/oidc/uni?next=/workspace"' in html
    assert "University &lt;Login&gt;" in html and 'href="/login/oidc/orcid?next=/workspace"' in html
    request.app.state.settings = Settings(data_dir=tmp_path)
    assert env.get_template("identity/_oidc_buttons.html").render(request=request).strip() == ""
