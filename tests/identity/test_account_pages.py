"""The account pages over HTTP, on both databases: register, confirm the address, sign in (cookie flags), the
header, my account and the public profile, sign out, forgotten password; throttling and lockout as a browser
sees them; no open redirect after sign-in."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.identity import throttle
from healthgate.identity.models import LoginSession, User
from healthgate.outbox.models import OutboxMessage

PASSWORD = "correct horse battery staple"


def make_client(db, clock, tmp_path, base_url="http://testserver", **settings) -> TestClient:
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, base_url=base_url, **settings), clock=clock)
    return TestClient(app, base_url=base_url, follow_redirects=False)


@pytest.fixture
def client(db, clock, tmp_path):
    with make_client(db, clock, tmp_path, rate_limit_failed_auth="off") as c:
        yield c


def emailed_link(db, to: str, path: str) -> str:
    with db.sessions() as s:
        for row in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())):
            m = re.search(re.escape(path) + r"\?token=([^\s]+)", row.payload["body"])
            if row.payload["to"] == to and m:
                return m.group(1)
    raise AssertionError(f"no {path} link emailed to {to}")


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def register_and_verify(client, db, email="ann@example.org", name="Ann Example") -> None:
    r = client.post("/register", data={"email": email, "name": name, "password": PASSWORD,
                                       "password_again": PASSWORD})
    assert r.status_code == 200 and "Check your email" in r.text, r.text[:300]
    token = emailed_link(db, email, "/verify-email")
    page = client.get(f"/verify-email?token={token}")
    assert page.status_code == 200 and "Confirm my email address" in page.text  # GET spends nothing
    r = client.post("/verify-email", data={"token": token})
    assert r.status_code == 303 and r.headers["location"].endswith("/login?verified=1")


def sign_in(client, email="ann@example.org", password=PASSWORD, **extra):
    return client.post("/login", data={"email": email, "password": password, **extra})


def test_register_verify_sign_in_account_and_sign_out(client, db):
    assert "Sign in" in client.get("/").text and "Sign out" not in client.get("/").text
    register_and_verify(client, db)
    r = sign_in(client)
    assert r.status_code == 303 and r.headers["location"] == "http://testserver/workspace"
    cookie = SimpleCookie(r.headers["set-cookie"])["healthgate_session"]
    assert cookie["httponly"] and cookie["samesite"] == "lax" and not cookie["secure"] and cookie["path"] == "/"
    home = client.get("/")
    header = re.search(r'<nav class="account".*?</nav>', home.text, re.DOTALL).group(0)
    assert "Ann Example" in header and 'href="/workspace"' in header and "Sign out" in header
    assert home.headers["cache-control"] == "private, no-store"  # personalised: no shared cache keeps it
    account = client.get("/account")
    assert account.status_code == 200 and "ann@example.org" in account.text
    # a form without its CSRF field is refused; with it, saved
    r = client.post("/account/profile", data={"name": "Ann E.", "public_fields": ["name", "orcid"]})
    assert r.status_code == 403 and "expired or did not come from this site" in r.text
    token = csrf_of(account.text)
    r = client.post("/account/profile", data={"csrf_token": token, "name": "Ann E.", "orcid": "0000-0002-1825-0098",
                                              "public_fields": ["name", "orcid"]})
    assert r.status_code == 422 and "check digit is wrong" in r.text and 'aria-invalid="true"' in r.text
    r = client.post("/account/profile", data={"csrf_token": token, "name": "Ann E.", "orcid": "0000-0002-1825-0097",
                                              "public_fields": ["name", "orcid"]})
    assert r.status_code == 303
    with db.sessions() as s:
        user = s.scalar(select(User))
    profile = TestClient(client.app).get(f"/people/{user.id}")  # a stranger, without the cookie
    assert profile.status_code == 200 and "Ann E." in profile.text and "0000-0002-1825-0097" in profile.text
    assert "ann@example.org" not in profile.text
    # sign out: the cookie is cleared and the session it named is over
    r = client.post("/logout", data={"csrf_token": csrf_of(client.get("/account").text)})
    assert r.status_code == 303 and 'healthgate_session=""' in r.headers["set-cookie"]
    with db.sessions() as s:
        assert s.scalar(select(LoginSession.revoked_at)) is not None
    client.cookies.set("healthgate_session", cookie.value)  # the old value no longer signs anyone in
    assert client.get("/account").status_code == 401


def test_cookie_is_secure_when_the_site_is_https(db, clock, tmp_path):
    with make_client(db, clock, tmp_path, base_url="https://gateway.example") as c:
        register_and_verify(c, db)
        r = sign_in(c)
        assert r.status_code == 303, r.text[:300]
        assert SimpleCookie(r.headers["set-cookie"])["healthgate_session"]["secure"]
        assert "max-age=31536000" in r.headers["strict-transport-security"]
        mail = emailed_link(db, "ann@example.org", "https://gateway.example/verify-email")
        assert mail


def test_wrong_password_and_lockout_read_the_same_for_unknown_addresses(client, db):
    register_and_verify(client, db)
    pages = {}
    for email in ("ann@example.org", "nobody@example.org"):
        for _ in range(throttle.MAX_FAILURES - 1):
            r = sign_in(client, email, "not the password")
            assert r.status_code == 400 and "the email address or password is wrong" in r.text
        pages[email] = sign_in(client, email, "not the password")
        assert pages[email].status_code == 429 and "locked until" in pages[email].text
        assert sign_in(client, email, PASSWORD).status_code == 429  # even the right password, while locked

    def message(r):
        return re.search(r'role="alert"[^>]*>(.*?)<', r.text).group(1)

    assert message(pages["ann@example.org"]) == message(pages["nobody@example.org"])
    assert "healthgate_session" not in client.cookies


def test_failed_sign_ins_are_limited_per_client(db, clock, tmp_path):
    with make_client(db, clock, tmp_path, rate_limit_failed_auth="3/minute") as c:
        for n in range(3):
            assert sign_in(c, f"someone{n}@example.org", "not the password").status_code == 400
        r = sign_in(c, "someone9@example.org", "not the password")
        assert r.status_code == 429 and "Retry-After" in r.headers


def test_forgotten_password(client, db):
    register_and_verify(client, db)
    for email in ("ann@example.org", "nobody@example.org"):  # the same answer either way
        r = client.post("/forgot-password", data={"email": email})
        assert r.status_code == 200 and "If an account has the address" in r.text
    token = emailed_link(db, "ann@example.org", "/reset-password")
    page = client.get(f"/reset-password?token={token}")
    assert page.status_code == 200 and 'name="token"' in page.text
    assert page.headers["referrer-policy"] == "same-origin"
    r = client.post("/reset-password", data={"token": token, "password": "new", "password_again": "new"})
    assert r.status_code == 422 and "at least 10" in r.text
    r = client.post("/reset-password", data={"token": token, "password": "a brand new passphrase",
                                             "password_again": "a brand new passphrase"})
    assert r.status_code == 303 and r.headers["location"].endswith("/login?reset=1")
    used = client.get(f"/reset-password?token={token}")
    assert used.status_code == 422 and "already been used" in used.text
    assert sign_in(client, password=PASSWORD).status_code == 400
    assert sign_in(client, password="a brand new passphrase").status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_no_open_redirect_after_sign_in(client, db, target):
    register_and_verify(client, db)
    r = sign_in(client, next=target)
    assert r.status_code == 303 and r.headers["location"] == "http://testserver/workspace"


def test_next_takes_a_local_path(client, db):
    register_and_verify(client, db)
    assert sign_in(client, next="/search?q=asthma").headers["location"] == "http://testserver/search?q=asthma"


def test_changing_the_password_keeps_this_browser_signed_in_and_ends_the_others(client, db, clock, tmp_path):
    register_and_verify(client, db)
    sign_in(client)
    with make_client(db, clock, tmp_path, rate_limit_failed_auth="off") as other:
        sign_in(other)
        assert other.get("/account").status_code == 200
        token = csrf_of(client.get("/account").text)
        r = client.post("/account/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                   "new_password": "a brand new passphrase",
                                                   "new_password_again": "a brand new passphrase"})
        assert r.status_code == 303, r.text[:400]
        assert client.get("/account").status_code == 200
        assert other.get("/account").status_code == 401


def test_register_shows_errors_by_field(client):
    r = client.post("/register", data={"email": "not an address", "name": "", "password": "short",
                                       "password_again": "short"})
    assert r.status_code == 422
    assert r.text.count('class="field-error"') >= 1 and 'aria-invalid="true"' in r.text
    r = client.post("/register", data={"email": "ann@example.org", "name": "Ann", "password": PASSWORD,
                                       "password_again": PASSWORD + "x"})
    assert r.status_code == 422 and "the two passwords differ" in r.text


def test_an_admin_verifies_accreditation_in_the_browser(client, db, clock, tmp_path):
    register_and_verify(client, db)
    sign_in(client)
    token = csrf_of(client.get("/account").text)
    r = client.post("/account/accreditation", data={"csrf_token": token, "evidence": "ONS RAS no. 123",
                                                    "expires_on": "2027-01-01"})
    assert r.status_code == 303
    assert client.get("/admin/accreditations").status_code == 403  # not an admin
    with db.sessions.begin() as s:
        from healthgate.context import Context
        from healthgate.identity import users
        from healthgate.identity.permissions import SYSTEM

        users.create_user(Context(s, SYSTEM, clock), "root@example.org", "Root", is_admin=True, verified=True,
                          password_hash=users.passwords.hash_password(PASSWORD))
        ann = users.find_by_email(Context(s, SYSTEM, clock), "ann@example.org")
    with make_client(db, clock, tmp_path) as admin:
        sign_in(admin, "root@example.org")
        queue = admin.get("/admin/accreditations")
        assert queue.status_code == 200 and "ONS RAS no. 123" in queue.text
        r = admin.post(f"/admin/accreditations/{ann.id}", data={"csrf_token": csrf_of(queue.text),
                                                                "decision": "verify"})
        assert r.status_code == 303
    assert "verified" in client.get("/account").text


def test_a_team_invitation_is_carried_through_registration_to_the_first_sign_in(client, db, monkeypatch):
    """The organisations part provides ``members.accept_invite(ctx, user, token)``; the account pages carry
    the invitation from /register through the confirmation link to the sign-in that accepts it."""
    from healthgate.identity import members

    accepted = []
    monkeypatch.setattr(members, "accept_invite", lambda ctx, user, token: accepted.append((user.email, token)),
                        raising=False)
    page = client.get("/register?invite=INVITE-123&email=eve@example.org")
    assert 'name="invite" value="INVITE-123"' in page.text and 'value="eve@example.org"' in page.text
    client.post("/register", data={"email": "eve@example.org", "name": "Eve", "password": PASSWORD,
                                   "password_again": PASSWORD, "invite": "INVITE-123"})
    with db.sessions() as s:
        body = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first().payload["body"]
    link = re.search(r"/verify-email\?(\S+)", body).group(1)
    assert "invite=INVITE-123" in link
    token = re.search(r"token=([^&\s]+)", link).group(1)
    verify = client.get(f"/verify-email?{link}")
    assert 'name="invite" value="INVITE-123"' in verify.text
    r = client.post("/verify-email", data={"token": token, "invite": "INVITE-123"})
    assert r.headers["location"].endswith("/login?verified=1&invite=INVITE-123")
    login = client.get("/login?verified=1&invite=INVITE-123")
    assert 'name="invite" value="INVITE-123"' in login.text
    assert accepted == []
    assert sign_in(client, "eve@example.org", invite="INVITE-123").status_code == 303
    assert accepted == [("eve@example.org", "INVITE-123")]


def test_sign_out_everywhere_and_a_new_confirmation_link(client, db, clock, tmp_path):
    register_and_verify(client, db)
    sign_in(client)
    with make_client(db, clock, tmp_path, rate_limit_failed_auth="off") as other:
        sign_in(other)
        r = client.post("/account/sign-out-everywhere", data={"csrf_token": csrf_of(client.get("/account").text)})
        assert r.status_code == 303 and r.headers["location"].endswith("/login")
        assert client.get("/account").status_code == 401 and other.get("/account").status_code == 401
    with db.sessions.begin() as s:  # an unconfirmed address: the account page offers a new link
        s.scalar(select(User)).email_verified_at = None
    with db.sessions() as s:
        before = len(s.scalars(select(OutboxMessage)).all())
    with db.sessions.begin() as s:
        from healthgate.context import Context
        from healthgate.identity import sessions as login_sessions
        from healthgate.identity.permissions import SYSTEM

        client.cookies.set("healthgate_session", login_sessions.start(Context(s, SYSTEM, clock), s.scalar(select(User)),
                                                                      "test"))
    page = client.get("/account")
    assert "is not confirmed yet" in page.text
    r = client.post("/account/verify-email", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    with db.sessions() as s:
        assert len(s.scalars(select(OutboxMessage)).all()) == before + 1
    assert emailed_link(db, "ann@example.org", "/verify-email")
