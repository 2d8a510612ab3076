"""The custodian workspace in Debian's chromium, driven by Playwright: a team admin adds a metadata editor; the
editor creates a dataset in the web form, sees an inline error, fixes it and saves a draft; a metadata manager
previews it, sees the diff and publishes it; it appears in public search; an anonymous visitor never sees the
draft. Skipped when /usr/bin/chromium is absent.

People sign in through ``sign_in``: the one place that knows how (today a session started on the server's
database and its cookie set in the browser; the accounts work can switch it to the sign-in form).
"""

from __future__ import annotations

import re
import uuid

import pytest

from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.identity import service as identity
from healthgate.identity import users
from healthgate.identity.models import Membership
from healthgate.identity.passwords import hash_password
from healthgate.identity.permissions import SYSTEM, Role
from healthgate.migrate import upgrade
from tests.web import live
from tests.web.live import BROWSER_MARKS
from tests.web.test_browser import _shot

pytestmark = BROWSER_MARKS
PASSWORD = "correct horse battery staple"
TEAM = "Wessex Heart Research Unit"


@pytest.fixture(scope="module")
def browser():
    with live.chromium() as b:
        yield b


class Site:
    def __init__(self, url: str, settings: Settings):
        self.url = url
        self.settings = settings
        self.engine = make_engine(settings.resolved_database_url)
        self.sessions = make_sessionmaker(self.engine)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data = tmp_path_factory.mktemp("workspace")
    settings = Settings(data_dir=data)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as s:
        ctx = Context(s, SYSTEM, SystemClock())
        team = identity.get_or_create_team(ctx, TEAM, member_group="ALLIANCE")
        for email, name, role in (("tess@example.org", "Tess Teamadmin", Role.TEAM_ADMIN),
                                  ("manny@example.org", "Manny Manager", Role.METADATA_MANAGER),
                                  ("edith@example.org", "Edith Editor", None)):
            user = users.create_user(ctx, email, name, verified=True, password_hash=hash_password(PASSWORD))
            if role is not None:
                s.add(Membership(team_id=team.id, user_id=user.id, role=role.value, created_at=ctx.now()))
    engine.dispose()
    with live.serve(settings) as url:
        running = Site(url, settings)
        yield running
    running.engine.dispose()


def sign_in(site: Site, browser, email: str):
    """A browser context signed in as the person with this email address, through the real sign-in form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site.url + "/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/workspace")
    page.close()
    return context


def _anonymous_cannot_see(site: Site, browser, dataset_id: str, title: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    for path in (f"/datasets/{dataset_id}", f"/workspace/datasets/{dataset_id}/preview",
                 f"/workspace/datasets/{dataset_id}/diff", f"/workspace/datasets/{dataset_id}"):
        response = page.goto(site.url + path)
        assert response.status in (401, 404), path
        assert title not in page.content()
    page.goto(site.url + "/search?q=" + title.split()[0])
    assert title not in page.locator("main").inner_text()
    context.close()


def test_a_team_publishes_a_dataset_from_the_browser(site, browser, tmp_path):
    title = f"Bright Heart Failure Cohort {uuid.uuid4().hex[:6]}"

    # the team admin adds Edith as a metadata editor
    tess = sign_in(site, browser, "tess@example.org")
    page = tess.new_page()
    page.goto(site.url + "/workspace")
    page.get_by_role("link", name=TEAM).click()
    page.get_by_role("link", name="Members and roles").click()
    page.get_by_label("Email address").fill("edith@example.org")
    page.get_by_label("Role").select_option(label="Metadata editor")
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_url("**/members?done=added")
    row = page.get_by_role("row").filter(has_text="Edith Editor")
    assert "Metadata editor" in row.inner_text()
    tess.close()

    # the editor creates a dataset in the form, forgets the title, sees it said beside the field
    edith = sign_in(site, browser, "edith@example.org")
    page = edith.new_page()
    page.goto(site.url + "/workspace")
    page.get_by_role("link", name=TEAM).click()
    page.get_by_role("link", name="New dataset").click()
    assert page.locator("label[for=f-summary-title]").inner_text() == "Title (required)"
    page.locator("#f-summary-abstract").fill("Adults with heart failure followed up after discharge in Wessex.")
    page.locator("#f-summary-populationSize").fill("about 4000")
    page.locator("#f-summary-contactPoint").fill("bright@wessexheart.ac.uk")
    page.locator("#f-summary-dataCustodian-contactPoint").fill("data@wessexheart.ac.uk")
    page.locator("#f-provenance-temporal-publishingFrequency").select_option("Annual")
    page.locator("#f-provenance-temporal-startDate").fill("2018-01-01")
    page.locator("#f-provenance-temporal-timeLag").select_option("1-2 months")
    page.locator("#f-accessibility-access-accessRights").fill("https://wessexheart.ac.uk/access")
    page.get_by_role("button", name="Save draft").click()
    error = page.locator("#f-summary-title-error")
    assert error.is_visible() and "a dataset needs a title" in error.inner_text()
    assert page.locator("#f-summary-title").get_attribute("aria-invalid") == "true"
    assert page.locator("#f-summary-abstract").input_value().startswith("Adults with heart failure")
    page.locator("#sec-summary").scroll_into_view_if_needed()
    page.evaluate("document.getElementById('sec-summary').scrollIntoView()")
    _shot(page, "workspace-inline-error.png", tmp_path)

    # fixes it; the draft is saved and the population size is pointed out next
    page.locator("#f-summary-title").fill(title)
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/edit?saved=1")
    assert "Draft saved." in page.locator("main").inner_text()
    assert "is not of type" in page.locator("#f-summary-populationSize-error").inner_text()
    page.locator("#f-summary-populationSize").fill("4012")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/edit?saved=1")
    assert page.locator(".field-error").count() == 0
    dataset_id = re.search(r"/workspace/datasets/([0-9a-f-]{36})/edit", page.url).group(1)
    page.get_by_role("link", name="Back to the dataset").click()
    assert page.get_by_role("button", name="Publish").count() == 0  # editors do not publish
    edith.close()
    _anonymous_cannot_see(site, browser, dataset_id, title)

    # the metadata manager previews, reads the diff, publishes
    manny = sign_in(site, browser, "manny@example.org")
    page = manny.new_page()
    page.goto(site.url + "/workspace")
    page.get_by_role("link", name=TEAM).click()
    page.get_by_role("link", name=title).click()
    page.get_by_role("link", name="Preview as the public page").click()
    assert page.get_by_role("heading", name="Preview of the draft").is_visible()
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert page.get_by_role("heading", name="Version history").is_visible()
    _shot(page, "workspace-preview.png", tmp_path)
    page.get_by_role("link", name="Back to the dataset").click()
    page.get_by_role("link", name="What will be published").click()
    assert page.get_by_role("row").filter(has_text="$.summary.title").filter(has_text=title).count() == 1
    page.get_by_role("link", name="Back to the dataset").click()
    page.once("dialog", lambda dialog: dialog.accept())  # "Publish this draft?"
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**?done=publish")
    assert "Published" in page.get_by_role("status").inner_text()
    _shot(page, "workspace-dataset.png", tmp_path)
    page.get_by_role("link", name=TEAM).click()
    row = page.get_by_role("row").filter(has_text=title)
    assert "published" in row.inner_text() and "Bronze" in row.inner_text()
    _shot(page, "workspace-team.png", tmp_path)
    manny.close()

    # public at last: in search, and on its page
    visitor = browser.new_context()
    page = visitor.new_page()
    page.goto(site.url + "/search?q=" + title.split()[-1])
    page.get_by_role("link", name=title).click()
    assert page.get_by_role("heading", level=1).inner_text() == title
    visitor.close()
