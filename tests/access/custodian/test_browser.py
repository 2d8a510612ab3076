"""A custodian handles a submitted application in Debian's chromium, driven by Playwright: from the workspace
to the team's queue, a message to the applicant and an internal note, reviewers assigned, an assigned reviewer's
review, approval with conditions; a form left open in another tab meanwhile is refused ("someone changed
this"), never a lost update. Skipped when /usr/bin/chromium is absent."""

from __future__ import annotations

import re

import pytest

from healthgate.access import lifecycle as lc
from healthgate.access import messages
from healthgate.access import service as access
from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity import sessions, users
from healthgate.identity.models import Team
from healthgate.identity.permissions import SYSTEM
from healthgate.migrate import upgrade
from tests.access.harness import build
from tests.web import live
from tests.web.live import BROWSER_MARKS
from tests.web.test_browser import _shot

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def browser():
    with live.chromium() as b:
        yield b


def _signed_in(browser, url: str, sessionmaker, user_id):
    """A browser context carrying a session started for this person on the server's database."""
    with sessionmaker.begin() as s:
        ctx = Context(s, SYSTEM, SystemClock())
        cookie = sessions.start(ctx, users.get_user(ctx, user_id), "password")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": sessions.COOKIE, "value": cookie, "url": url}])
    return context


def test_a_custodian_handles_a_submitted_application(browser, tmp_path):
    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    sessionmaker = make_sessionmaker(engine)
    w = build(sessionmaker, SystemClock())
    with sessionmaker.begin() as s:
        ctx = w.ctx(s, "applicant")
        app = access.create(ctx, [w.datasets["A1"], w.datasets["B1"]], title="Anticoagulation outcomes")
        access.run(ctx, app.id, "submit")
        app_id, reference = app.id, app.reference
        team_name = s.get(Team, w.teams["A"]).name
    with live.serve(settings) as url:
        manager = _signed_in(browser, url, sessionmaker, w.people["manager_A"])
        page = manager.new_page()
        page.goto(url + "/workspace")
        page.get_by_role("link", name=team_name).click()
        page.get_by_role("link", name="Access requests").click()
        row = page.get_by_role("row").filter(has_text=reference)
        assert "Anticoagulation outcomes" in row.inner_text() and "Alpha cardiovascular cohort" in row.inner_text()
        _shot(page, "custodian-queue.png", tmp_path)
        row.get_by_role("link", name=reference).click()
        page.wait_for_url(f"**/applications/{app_id}")
        assert "Beta Biobank: waiting for the custodian" in page.locator("main").inner_text()

        # a message to the applicant and a note for the team
        page.get_by_label("Message to the applicant", exact=True).fill("Which years do you need?")
        page.get_by_role("button", name="Send message").click()
        page.wait_for_url("**done=message*")
        page.get_by_label("Internal note", exact=True).fill("Check the ethics approval date")
        page.get_by_role("button", name="Add note").click()
        page.wait_for_url("**done=note*")

        # a second tab opened now goes stale once the reviewers are assigned
        stale = manager.new_page()
        stale.goto(url + f"/workspace/teams/{page.url.split('/teams/')[1].split('/')[0]}/applications/{app_id}")

        page.locator("#h-assign").click()  # each command is a disclosure: open it
        page.get_by_role("checkbox", name=re.compile("Reviewer A")).check()
        page.get_by_label("Review phase").fill("committee")
        page.get_by_label("Due date").fill("2030-03-02")
        page.locator("#form-assign").get_by_role("button", name="Assign reviewers").click()
        page.wait_for_url("**done=assign*")
        assert page.locator("#part-state").inner_text() == "in review"

        stale.locator("#h-reject").click()
        stale.get_by_label("Reason for rejecting").fill("Out of scope")
        stale.locator("#form-reject").get_by_role("button", name="Reject").click()
        assert "Someone changed this application since you opened it" in stale.locator("main").inner_text()
        assert stale.locator("#part-state").inner_text() == "in review"

        # the assigned reviewer reviews
        reviewer = _signed_in(browser, url, sessionmaker, w.people["reviewer_A"])
        rpage = reviewer.new_page()
        rpage.goto(page.url.split("?")[0])
        assert rpage.locator("#form-approve").count() == 0  # reviews, does not decide
        rpage.get_by_role("radio", name="Approve with conditions").check()
        rpage.get_by_label("Comment", exact=True).fill("Fine if outputs are checked")
        rpage.locator("#form-review").get_by_role("button", name="Review").click()
        rpage.wait_for_url("**done=review*")
        reviewer.close()

        # the access manager approves with conditions
        page.goto(page.url.split("?")[0])
        assert "Fine if outputs are checked" in page.locator("#reviews-h + ul").inner_text()
        page.locator("#h-approve-with-conditions").click()
        page.get_by_label("Conditions", exact=True).fill("Outputs checked before release\nNo linkage beyond the study")
        page.locator("#form-approve-with-conditions").get_by_role("button", name="Approve with conditions").click()
        page.wait_for_url("**done=approve-with-conditions*")
        assert page.locator("#part-state").inner_text() == "approved with conditions"
        assert "Outputs checked before release" in page.locator("main").inner_text()
        _shot(page, "custodian-part.png", tmp_path)
        manager.close()

    with sessionmaker() as s:
        state = access.load_state(w.ctx(s, "system"), app_id)
        part = state.parts[w.teams["A"]]
        assert part.state == lc.PartState.APPROVED_WITH_CONDITIONS and len(part.reviews) == 1
        assert part.conditions == ("Outputs checked before release", "No linkage beyond the study")
        assert state.parts[w.teams["B"]].state == lc.PartState.SUBMITTED
        seen = [m.body for m in messages.visible(w.ctx(s, "applicant"), "application", app_id)]
        assert seen == ["Which years do you need?"]  # the note stays with the team
    engine.dispose()
