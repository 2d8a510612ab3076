"""From approval to the public register in Debian's chromium, on a phone-sized screen: a custodian approves an
application, finds the drafted entry waiting in the register, completes it, previews it, publishes it, and the
public sees it. Before publishing, the public sees nothing of it. Skipped without chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.sync_api import expect

from healthgate.access import service as access
from healthgate.clock import FixedClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity import sessions, users
from healthgate.identity.models import Team
from healthgate.identity.permissions import SYSTEM
from healthgate.migrate import upgrade
from tests.access.harness import Q1, build
from tests.web import live
from tests.web.live import BROWSER_MARKS

pytestmark = BROWSER_MARKS


def test_an_approved_application_reaches_the_public_register_only_when_published(tmp_path):
    clock = FixedClock(datetime(2026, 4, 2, 10, 0, tzinfo=UTC))
    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    sessionmaker = make_sessionmaker(engine)
    w = build(sessionmaker, clock)
    with sessionmaker.begin() as s:
        ctx = w.ctx(s, "applicant")
        app_id = access.create(ctx, [w.datasets["A1"]]).id
        access.run(ctx, app_id, "save", {"answers": {Q1: "Anticoagulation after stroke"}})
        access.run(ctx, app_id, "submit")
        slug = s.get(Team, w.teams["A"]).slug
        cookie = sessions.start(Context(s, SYSTEM, clock), users.get_user(Context(s, SYSTEM, clock),
                                                                           w.people["manager_A"]), "password")

    with live.serve(settings, clock) as url, live.chromium() as browser:
        custodian = browser.new_context(viewport={"width": 390, "height": 844})
        custodian.add_cookies([{"name": sessions.COOKIE, "value": cookie, "url": url}])
        page = custodian.new_page()
        # the custodian approves its part
        page.goto(f"{url}/workspace/teams/{slug}/applications/{app_id}")
        page.locator("#h-approve").click()
        page.locator("#form-approve").get_by_role("button", name="Approve").click()
        page.wait_for_url("**done=approve*")

        # the drafted entry waits in the register, flagged
        page.goto(f"{url}/workspace/teams/{slug}/data-uses")
        waiting = page.get_by_role("region", name=re.compile("Waiting for your review"))
        expect(waiting).to_contain_text("Anticoagulation after stroke")
        waiting.get_by_role("link", name="Anticoagulation after stroke").click()
        page.wait_for_url(re.compile(r"/data-uses/[0-9a-f-]{36}$"))
        entry_id = page.url.rsplit("/", 1)[1]
        expect(page.locator("main")).to_contain_text("Drafted from an approved application")

        # nothing is public yet: not the entry page, not the API
        public = browser.new_context(viewport={"width": 390, "height": 844})
        visitor = public.new_page()
        assert visitor.goto(f"{url}/data-uses/{entry_id}").status == 404
        assert public.request.get(f"{url}/api/v1/data-uses/{entry_id}").status == 404

        # the form asked only for a title and the applicant has no affiliation on record: the custodian
        # completes the entry, saves, previews, publishes
        page.get_by_label("Organisation name").fill("University of Exeter")
        page.get_by_label("Lay summary").fill("Whether blood thinners after a stroke prevent a second one.")
        page.get_by_label("Public benefit statement").fill("Safer prescribing after stroke.")
        page.get_by_label("Access type").select_option("TRE")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url("**done=saved")
        page.get_by_role("link", name="Preview as the public will see it").click()
        preview = page.locator("article")
        expect(preview).to_contain_text("Anticoagulation after stroke")
        expect(preview).to_contain_text("Alpha cardiovascular cohort")
        expect(page.locator("main")).to_contain_text("not public")
        page.go_back()
        page.get_by_role("button", name="Publish").click()
        page.wait_for_url("**done=published")
        expect(page.get_by_role("status")).to_contain_text("on the public register")

        # the public sees it now, on its entry page and through the API
        assert visitor.goto(f"{url}/data-uses/{entry_id}").status == 200
        expect(visitor.get_by_role("heading", level=1)).to_have_text("Anticoagulation after stroke")
        article = visitor.locator("article")
        expect(article).to_contain_text("Whether blood thinners after a stroke prevent a second one.")
        expect(article).to_contain_text("Alpha cardiovascular cohort")
        expect(article).to_contain_text("University of Exeter")
        assert visitor.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        shown = public.request.get(f"{url}/api/v1/data-uses/{entry_id}")
        assert shown.status == 200
        body = shown.json()
        assert body["project_title"] == "Anticoagulation after stroke" and body["status"] == "published"
        assert body["access_type"] == "TRE" and body["application_id"] is None
        assert [d["dataset_id"] for d in body["datasets"]] == [str(w.datasets["A1"])]
    engine.dispose()
