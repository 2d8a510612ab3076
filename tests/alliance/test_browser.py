"""The alliance's pages in Debian's chromium, driven by Playwright, on a phone's 390 px wide screen: the alliance
admin signs in, adds a member through the form by keyboard, sees its obligations on the compliance dashboard,
records the day it leaves, and the public members pages show it; the transparency statistics draw their charts
and each figure downloads as CSV. Nothing scrolls sideways and no page breaks its Content Security Policy.
Skipped when /usr/bin/chromium is absent."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from healthgate.access import service as access
from healthgate.register import service as register
from tests.access.harness import on_disk
from tests.alliance.conftest import ROR_GAMMA, alliance_world, entry_data
from tests.web import live
from tests.web.live import BROWSER_MARKS
from tests.web.test_browser import _shot

pytestmark = BROWSER_MARKS
PASSWORD = "correct horse battery staple"
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth + 1"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The alliance's world with one access request received by team A and one published register entry of team
    B (so that the statistics have something to draw); the alliance admin can sign in."""
    with on_disk(tmp_path_factory.mktemp("alliance"), PASSWORD, "admin") as (settings, sessions, w):
        alliance_world(sessions, w)
        with sessions.begin() as s:
            applicant = w.ctx(s, "applicant")
            app_id = access.create(applicant, [w.datasets["A1"]], title="Heart outcomes").id
            access.run(applicant, app_id, "submit")
            ctx = w.ctx(s, "system")
            entry = register.create(ctx, w.teams["B"], entry_data("Genomes of the heart", sector="Commercial"))
            register.publish(ctx, entry.id)
    with live.serve(settings) as url:
        yield url, w


@pytest.fixture
def phone():
    """A page on a 390 px wide screen, and the console errors and page errors it meets."""
    with live.chromium() as browser:
        page = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True).new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        yield page, problems


def test_an_admin_adds_a_member_records_its_leaving_and_the_public_pages_show_it(site, phone, tmp_path):
    url, _ = site
    page, problems = phone
    page.goto(f"{url}/login?next=/admin/alliance")
    page.get_by_label("Email address").fill("admin@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url("**/admin/alliance")
    assert page.get_by_role("heading", name="Alliance compliance dashboard").is_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    # to the form and through it by keyboard: every field labelled, in order, Enter submits
    page.get_by_role("link", name="Add a member").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/alliance/members/new")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.get_by_label("Organisation", exact=True).focus()
    page.keyboard.type(ROR_GAMMA)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "member_type"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "join_date"
    page.get_by_label("Join date").fill("2025-01-15")
    page.get_by_label("Description (public)").fill("The health board of Gamma.")
    page.get_by_label("Announcement wave").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/admin/alliance/members/[0-9a-f-]{36}\?done=created"))
    assert page.get_by_role("status").inner_text() == "The member was added."
    member_id = re.search(r"/members/([0-9a-f-]{36})", page.url).group(1)
    assert page.get_by_label("Announcement wave").input_value() == "2025 Q1"  # proposed from the join date

    # the dashboard: Gamma's obligations fall due from its join date (discoverable: 12 months after)
    page.goto(f"{url}/admin/alliance?q=Gamma&obligation=discoverable")
    row = page.locator("table.hg-obligations tbody tr")
    assert row.count() == 1
    assert "Gamma Health Board" in row.inner_text() and "15 Jan 2026" in row.inner_text()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(page, "alliance-dashboard-phone.png", tmp_path)

    # the day it leaves, recorded on its page: its obligations end then
    leaves = date.today() + timedelta(days=90)
    page.goto(f"{url}/admin/alliance/members/{member_id}")
    page.get_by_label("Left on").fill(leaves.isoformat())
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"\?done=saved$"))
    assert page.get_by_role("status").inner_text() == "The member was saved."
    assert page.get_by_label("Left on").input_value() == leaves.isoformat()

    # anyone: the public members page lists it in its wave; its page shows the join and leaving dates
    visitor = page.context.browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    visitor.goto(f"{url}/members")
    assert visitor.evaluate(NO_SIDEWAYS_SCROLL)
    wave = visitor.get_by_role("region", name="2025 Q1 (1)")
    assert wave.get_by_role("row", name=re.compile("Gamma Health Board")).is_visible()
    visitor.keyboard.press("Tab")
    assert visitor.evaluate("document.activeElement.textContent") == "Skip to content"
    wave.get_by_role("link", name="Gamma Health Board").focus()
    visitor.keyboard.press("Enter")
    visitor.wait_for_url(f"**/members/{member_id}")
    facts = visitor.locator("dl.facts").inner_text()
    assert "15 January 2025" in facts and "2025 Q1" in facts and leaves.strftime("%d %B %Y") in facts
    assert "The health board of Gamma." in visitor.locator("main").inner_text()
    assert visitor.get_by_role("link", name="Edit this member").count() == 0  # the public sees no admin link
    assert visitor.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(visitor, "alliance-member-phone.png", tmp_path)
    visitor.context.close()
    assert not problems, problems


def test_statistics_draw_their_charts_and_download_their_figures(site, phone, tmp_path):
    url, _ = site
    page, problems = phone
    page.goto(f"{url}/statistics")
    assert page.get_by_role("heading", name="Transparency statistics", level=1).is_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    charts = page.locator("svg.hg-chart")
    assert charts.count() >= 3
    for i in range(charts.count()):  # drawn, in a box within the screen, its text readable, named for screen readers
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 10
        frame = page.locator(".hg-chart-scroll").nth(i).bounding_box()
        assert frame is not None and frame["x"] + frame["width"] <= 391  # the chart scrolls inside it, not the page
        label = charts.nth(i).locator("text").first.bounding_box()
        assert label is not None and label["height"] >= 9, label  # not shrunk to the screen's width
    assert page.get_by_role("img", name=re.compile("^Published register entries by sector")).is_visible()
    assert page.locator("svg.hg-chart rect title", has_text="Commercial: 1").count() == 1
    assert page.locator("svg.hg-chart rect title", has_text=re.compile(r": 1 received$")).count() == 1

    # the figures' contents by keyboard: a link of the list leads to its figure
    page.get_by_role("navigation", name="Figures").get_by_role("link").nth(3).focus()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#register"
    _shot(page, "alliance-statistics-phone.png", tmp_path)

    figures = {}
    for section in ("requests", "register", "quality"):
        link = page.locator(f"section:has(h2#{section})").get_by_role("link", name="Download (CSV)")
        with page.expect_download() as got:
            link.click()
        download = got.value
        assert download.suggested_filename.startswith(f"healthgate-{section}-")
        figures[section] = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert sum(int(r["received"]) for r in figures["requests"]) == 1
    assert [(r["sector"], r["total"]) for r in figures["register"]] == [("Commercial", "1")]
    assert {r["custodian"] for r in figures["quality"]} == {"Alpha Health Data", "Beta Biobank"}
    assert not problems, problems
