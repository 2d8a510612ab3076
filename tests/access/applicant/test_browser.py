"""A researcher in Debian's chromium, driven by Playwright: on a dataset's page (anonymous) they choose "Add to
basket", sign in and come back, add a second custodian's dataset, apply for both together from the basket, name
the project, save and submit, and see each custodian's part waiting. No page breaks its Content Security Policy
(no inline script). Skipped when /usr/bin/chromium is absent."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.access.harness import on_disk
from tests.web import live
from tests.web.live import BROWSER_MARKS

pytestmark = BROWSER_MARKS
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with on_disk(tmp_path_factory.mktemp("applicant"), PASSWORD, "applicant") as (settings, _, world):
        pass
    with live.serve(settings) as url:
        yield url, world


def test_dataset_page_to_basket_to_submitted_application(site):
    url, w = site
    with live.chromium() as browser:
        context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(f"{url}/datasets/{w.datasets['A1']}")
        box = page.get_by_role("region", name="Terms of access")
        assert "not enough requests yet" in box.inner_text()
        box.get_by_role("link", name="Add to basket").click()
        page.wait_for_url(re.compile(r"/login\?next="))
        page.get_by_label("Email address").fill("applicant@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**/datasets/{w.datasets['A1']}")  # back where they were
        page.get_by_role("button", name="Add to basket").click()
        expect(page.get_by_role("region", name="Terms of access")).to_contain_text("In your basket")

        page.goto(f"{url}/datasets/{w.datasets['B1']}")
        page.get_by_role("button", name="Add to basket").click()
        expect(page.get_by_role("region", name="Terms of access")).to_contain_text("In your basket")
        page.get_by_role("link", name=re.compile(r"Basket 2")).click()
        page.wait_for_url("**/basket")
        assert page.get_by_role("heading", name="Alpha Health Data").is_visible()
        assert page.get_by_role("heading", name="Beta Biobank").is_visible()
        page.get_by_label("Project title").fill("Hearts and genomes")
        page.get_by_role("button", name="Apply for these together").click()
        page.wait_for_url(re.compile(r"/applications/[0-9a-f-]+/edit\?done=created$"))

        assert page.get_by_label("Project title").input_value() == "Hearts and genomes"
        page.get_by_label("Project title").fill("Hearts and genomes, 2000-2025")
        page.get_by_role("button", name="Save and submit").click()
        page.wait_for_url(re.compile(r"/applications/[0-9a-f-]+\?done=submitted$"))
        assert page.get_by_role("status").inner_text() == "Submitted to every custodian."
        parts = page.locator(".part")
        assert parts.count() == 2
        assert "submitted" in parts.nth(0).inner_text() and "submitted" in parts.nth(1).inner_text()
        assert page.get_by_role("heading", level=1).inner_text() == "Hearts and genomes, 2000-2025"
        page.get_by_role("link", name="My applications").first.click()
        assert "Hearts and genomes, 2000-2025" in page.locator("main").inner_text()
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
        context.close()
