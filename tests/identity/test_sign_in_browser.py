"""Signing in and out in Debian's chromium: the real form, the header greeting, and no page that the Content
Security Policy breaks (every page of the journey is watched for policy violations). Skipped without
/usr/bin/chromium, like the other browser tests."""

from __future__ import annotations

import re

import pytest

from healthgate.catalogue.importer import import_items
from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.identity import passwords, users
from healthgate.identity.permissions import SYSTEM
from healthgate.interop.sources import read_sources
from healthgate.migrate import upgrade
from tests.conftest import FIXTURES
from tests.web import live
from tests.web.live import BROWSER_MARKS

PASSWORD = "correct horse battery staple"
pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("signin"))
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    items, errors, _ = read_sources([FIXTURES / "hdruk-4.0.0-full.json"])
    assert not errors
    with transaction(make_sessionmaker(engine)) as s:
        ctx = Context(s, SYSTEM, SystemClock())
        import_items(ctx, items, team="Browser Team", accept_invalid=True)
        users.create_user(ctx, "ann@example.org", "Ann Example", verified=True,
                          password_hash=passwords.hash_password(PASSWORD))
    engine.dispose()
    with live.serve(settings) as url:
        yield url


@pytest.fixture
def page():
    with live.chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()


def sign_in(page, server: str, email: str, password: str) -> None:
    """Sign in through the real form (other browser tests can call this)."""
    page.goto(server + "/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_sign_in_and_out_with_no_policy_violation(server, page):
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(server + "/")
    page.get_by_role("link", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/login\?next=/$"))
    page.get_by_label("Email address").fill("ann@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert "the email address or password is wrong" in page.get_by_role("alert").inner_text()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server + "/")  # back where the person came from
    header = page.locator("nav.account")
    assert header.get_by_role("link", name="Ann Example").is_visible()
    assert header.get_by_role("link", name="Workspace").get_attribute("href") == "/workspace"
    cookie = next(c for c in page.context.cookies() if c["name"] == "healthgate_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # no script can read the session

    for path in ("/search?q=cancer", "/account", "/api/v1/docs"):
        page.goto(server + path)
        page.wait_for_load_state("networkidle")
    page.goto(server + "/search")
    page.locator("ol.results li h2 a").first.click()
    page.wait_for_load_state("networkidle")
    page.goto(server + "/account")
    page.get_by_role("textbox", name="ORCID iD").fill("0000-0002-1825-0098")
    page.get_by_role("button", name="Save profile").click()
    assert "check digit is wrong" in page.locator(".field-error").first.inner_text()
    page.get_by_role("textbox", name="ORCID iD").fill("0000-0002-1825-0097")
    page.get_by_role("button", name="Save profile").click()
    assert "Your profile is saved" in page.get_by_role("status").inner_text()

    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("nav.account").get_by_role("link", name="Sign in").is_visible()
    assert violations == []
