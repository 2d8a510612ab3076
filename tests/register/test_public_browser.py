"""A member of the public finds who used a dataset, in Debian's chromium at phone width (390 px), without
JavaScript: search the register, narrow it with a facet and the approval range, open an entry, follow its dataset
to the catalogue and back through "How this dataset has been used", then the organisation's page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.sync_api import expect

from healthgate.clock import FixedClock
from healthgate.config import Settings
from healthgate.db import make_engine, make_sessionmaker
from healthgate.migrate import upgrade
from tests.register import public_world as pw
from tests.web import live
from tests.web.live import BROWSER_MARKS

pytestmark = BROWSER_MARKS


def test_find_who_used_a_dataset(tmp_path):
    clock = FixedClock(datetime(2026, 1, 15, 9, 30, tzinfo=UTC))
    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    r = pw.standard(make_sessionmaker(engine), clock)
    engine.dispose()
    with live.serve(settings, clock) as url, live.chromium() as browser:
        context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
        page = context.new_page()
        page.goto(f"{url}/")
        page.get_by_role("link", name="Data uses").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("3 data uses")
        page.get_by_label("Search the data use register").fill("Alpha")
        page.get_by_role("button", name="Search", exact=True).click()
        page.get_by_label(re.compile(r"^Release")).check()
        page.get_by_label("From").fill("2024")
        page.get_by_role("button", name="Apply filters").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("1 data use")
        expect(page.get_by_role("link", name="Remove filter Access type: Release")).to_be_visible()
        assert "zebra" not in page.content().lower()
        page.get_by_role("link", name="Kidney disease progression").click()
        expect(page.get_by_role("heading", name="Safe Data")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling at 390 px
        page.get_by_role("link", name="Alpha renal registry").click()
        section = page.get_by_role("region", name="How this dataset has been used")
        expect(section).to_contain_text("Kidney disease progression")
        expect(section).to_contain_text("University of Leeds")
        page.goto(f"{url}/data-uses/{r.entries['kidney']}")
        page.get_by_role("link", name="University of Leeds").first.click()
        expect(page).to_have_url(re.compile(rf"/organisations/{pw.LEEDS_ROR}$"))
        expect(page.get_by_role("region", name=re.compile("Projects"))).to_contain_text("Kidney disease progression")
        context.close()
