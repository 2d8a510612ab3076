"""The whole of an access request in Debian's chromium, with an injected clock.

A researcher applies for datasets of two custodians on Thursday 2 April 2026, the day before Good Friday.
Custodian A returns the application on Tuesday 7 April (after Easter Monday); the researcher resubmits on
Tuesday 14 April; on Thursday 16 April A approves with conditions and B rejects. In England Good Friday and
Easter Monday are bank holidays, so from 2 to 16 April there are 8 working days; A's part was with the
researcher for 5 of them (8-14 April), so A took 3 working days and B 8. Each custodian had decided four
earlier applications (A in 1, 2, 4 and 5 working days; B in 6, 7, 9 and 10), so with these the dataset pages
show A's median 3 and 90th percentile 4.6, B's median 8 and 90th percentile 9.6. Skipped without chromium."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from playwright.sync_api import expect

from healthgate.access import lifecycle as lc
from healthgate.access import service as access
from healthgate.clock import FixedClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity import sessions, users
from healthgate.identity.permissions import SYSTEM
from healthgate.migrate import upgrade
from tests.access.harness import build
from tests.web import live
from tests.web.live import BROWSER_MARKS

pytestmark = BROWSER_MARKS


class Clock(FixedClock):
    def set(self, when: str) -> None:
        self._now = datetime.fromisoformat(when).replace(tzinfo=UTC)


def _earlier_decisions(sessionmaker, w, clock: Clock) -> None:
    """Four decided applications for each custodian, submitted Monday 2 March 2026 (no bank holiday that
    month) and approved after the given working days."""
    clock.set("2026-03-02T09:00")
    days = {"A1": (1, 2, 4, 5), "B1": (6, 7, 9, 10)}
    pending = []
    with sessionmaker.begin() as s:
        for dataset, spans in days.items():
            for n in spans:
                app = access.create(w.ctx(s, "applicant"), [w.datasets[dataset]], title=f"Earlier {dataset} {n}")
                access.run(w.ctx(s, "applicant"), app.id, "submit")
                pending.append((n, app.id, "manager_A" if dataset == "A1" else "manager_B"))
    decision_day = {1: "03", 2: "04", 4: "06", 5: "09", 6: "10", 7: "11", 9: "13", 10: "16"}
    for n, app_id, manager in sorted(pending, key=lambda p: p[0]):
        clock.set(f"2026-03-{decision_day[n]}T15:00")
        with sessionmaker.begin() as s:
            access.run(w.ctx(s, manager), app_id, "approve")


def _signed_in(browser, url: str, sessionmaker, clock, user_id):
    with sessionmaker.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        cookie = sessions.start(ctx, users.get_user(ctx, user_id), "password")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": sessions.COOKIE, "value": cookie, "url": url}])
    return context


def _custodian_page(context, url, team_slug, app_id):
    page = context.new_page()
    page.goto(f"{url}/workspace/teams/{team_slug}/applications/{app_id}")
    return page


def test_two_custodians_return_resubmit_decide_and_the_measured_times(tmp_path):
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    sessionmaker = make_sessionmaker(engine)
    w = build(sessionmaker, clock)
    _earlier_decisions(sessionmaker, w, clock)
    with sessionmaker() as s:
        from healthgate.identity.models import Team

        slug = {k: s.get(Team, t).slug for k, t in w.teams.items()}

    with live.serve(settings, clock) as url, live.chromium() as browser:
        # Thursday 2 April: the researcher applies for A's and B's datasets together
        clock.set("2026-04-02T10:00")
        researcher = _signed_in(browser, url, sessionmaker, clock, w.people["applicant"])
        page = researcher.new_page()
        for key in ("A1", "B1"):
            page.goto(f"{url}/datasets/{w.datasets[key]}")
            page.get_by_role("button", name="Add to basket").click()
            expect(page.get_by_role("region", name="Terms of access")).to_contain_text("In your basket")
        page.goto(f"{url}/basket")
        page.get_by_label("Project title").fill("Anticoagulation and genomes")
        page.get_by_role("button", name="Apply for these together").click()
        page.wait_for_url(re.compile(r"/applications/[0-9a-f-]+/edit\?done=created$"))
        app_id = page.url.split("/applications/")[1].split("/")[0]
        page.get_by_role("button", name="Save and submit").click()
        page.wait_for_url(re.compile(r"\?done=submitted$"))

        # Tuesday 7 April (Good Friday and Easter Monday between): A returns it
        clock.set("2026-04-07T11:00")
        manager_a = _signed_in(browser, url, sessionmaker, clock, w.people["manager_A"])
        a_page = _custodian_page(manager_a, url, slug["A"], app_id)
        a_page.locator("#h-return").click()
        a_page.get_by_label("What the applicant needs to change").fill("Say how the cohorts are linked")
        a_page.locator("#form-return").get_by_role("button", name=re.compile("Return")).click()
        a_page.wait_for_url("**done=return*")
        assert a_page.locator("#part-state").inner_text() == "with the applicant"

        # Tuesday 14 April: the researcher resubmits (signing in again: sessions do not last twelve days)
        clock.set("2026-04-14T09:30")
        researcher.close()
        researcher = _signed_in(browser, url, sessionmaker, clock, w.people["applicant"])
        page = researcher.new_page()
        page.goto(f"{url}/applications/{app_id}")
        assert "Say how the cohorts are linked" in page.locator("main").inner_text()
        page.get_by_role("link", name="Make changes and resubmit").click()
        page.get_by_role("button", name="Save and resubmit").click()
        page.wait_for_url(re.compile(r"\?done=resubmitted$"))

        # Thursday 16 April: A approves with conditions, B rejects
        clock.set("2026-04-16T14:00")
        manager_a.close()
        manager_a = _signed_in(browser, url, sessionmaker, clock, w.people["manager_A"])
        a_page = _custodian_page(manager_a, url, slug["A"], app_id)
        a_page.locator("#h-approve-with-conditions").click()
        a_page.get_by_label("Conditions", exact=True).fill("Outputs checked before release")
        a_page.locator("#form-approve-with-conditions").get_by_role(
            "button", name="Approve with conditions").click()
        a_page.wait_for_url("**done=approve-with-conditions*")
        manager_b = _signed_in(browser, url, sessionmaker, clock, w.people["manager_B"])
        b_page = _custodian_page(manager_b, url, slug["B"], app_id)
        b_page.locator("#h-reject").click()
        b_page.get_by_label("Reason for rejecting").fill("Genomes are for consented studies only")
        b_page.locator("#form-reject").get_by_role("button", name="Reject").click()
        b_page.wait_for_url("**done=reject*")

        # the researcher sees both parts, the outcome and the waiting times in working days
        researcher.close()
        researcher = _signed_in(browser, url, sessionmaker, clock, w.people["applicant"])
        page = researcher.new_page()
        page.goto(f"{url}/applications/{app_id}")
        parts = page.locator(".part")
        text = {parts.nth(i).inner_text() for i in range(parts.count())}
        a_text = next(t for t in text if "Alpha Health Data" in t)
        b_text = next(t for t in text if "Beta Biobank" in t)
        assert "approved with conditions" in a_text and "Outputs checked before release" in a_text
        assert "3 working days" in a_text
        assert "rejected" in b_text and "8 working days" in b_text
        assert "partly approved" in page.locator("main").inner_text().lower()

        # the dataset pages now show each custodian's measured time to decision (5 decisions each)
        page.goto(f"{url}/datasets/{w.datasets['A2']}")
        terms = page.get_by_role("region", name="Terms of access").inner_text()
        assert "median 3 working days" in terms and "90% decided within 4.6" in terms, terms
        page.goto(f"{url}/datasets/{w.datasets['B1']}")
        terms = page.get_by_role("region", name="Terms of access").inner_text()
        assert "median 8 working days" in terms and "90% decided within 9.6" in terms, terms
        for context in (researcher, manager_a, manager_b):
            context.close()

    with sessionmaker() as s:
        state = access.load_state(w.ctx(s, "system"), uuid.UUID(app_id))
        assert state.status == lc.Status.PARTLY_APPROVED
        assert state.parts[w.teams["A"]].state == lc.PartState.APPROVED_WITH_CONDITIONS
        assert state.parts[w.teams["B"]].state == lc.PartState.REJECTED
    engine.dispose()
