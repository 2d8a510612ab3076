"""A custodian's harvest pages in Debian's chromium, driven by Playwright: the team's metadata manager signs in,
adds a source pointing at a fake HDR UK federated metadata catalogue on 127.0.0.1, harvests it now, and reads
the job history and the per-item report (one dataset created, one failing as not JSON), filtered by outcome.
No page breaks its Content Security Policy. Skipped when /usr/bin/chromium is absent."""

from __future__ import annotations

import re

import pytest

from healthgate.clock import SystemClock
from healthgate.federation import jobs
from tests.access.harness import on_disk
from tests.federation.fakes import Answer, FmaSource, document
from tests.federation.harvest_world import build
from tests.web import live
from tests.web.live import BROWSER_MARKS
from tests.web.test_browser import _shot

pytestmark = BROWSER_MARKS
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The harvest world served; its sessions stay open for the test to run the queued harvest as a worker
    would."""
    data_dir = tmp_path_factory.mktemp("harvest")
    with on_disk(data_dir, PASSWORD, "manager_A", make=build) as (settings, sessions, w), \
            live.serve(settings) as url:
        yield url, sessions, w


def test_a_custodian_adds_a_source_harvests_it_now_and_reads_the_report(site, tmp_path):
    url, sessions, _ = site
    base = f"{url}/workspace/teams/alpha-health-data/harvest"
    with live.chromium() as browser, FmaSource() as src:
        src.add("good", document("Good dataset"))
        src.add("bad", document("Bad dataset"))
        src.script("/datasets/bad", Answer(200, b"{oops"))
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(f"{url}/login")
        page.get_by_label("Email address").fill("manager_a@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        page.goto(f"{url}/workspace/teams/alpha-health-data")
        page.get_by_role("link", name="Harvest sources").click()
        page.wait_for_url(base)
        assert page.get_by_role("cell", name="No harvest sources yet.").is_visible()

        form = page.get_by_role("region", name="Add a source")
        form.get_by_label("Name", exact=True).fill("alpha-fma")
        form.get_by_label("Kind of source").select_option("hdruk-fma")
        form.get_by_label("URL", exact=True).fill(src.url)
        form.get_by_label("Other settings (JSON)").fill('{"retries": 0}')
        form.get_by_role("button", name="Add source").click()
        page.wait_for_url(re.compile(r"/harvest/[0-9a-f-]{36}\?done=added$"))
        assert page.get_by_role("status").inner_text() == "The source was added."
        history = page.get_by_role("region", name="Harvests", exact=True)
        assert history.get_by_role("cell", name="No harvests yet.").is_visible()

        page.get_by_role("button", name="Harvest now").click()
        page.wait_for_url(re.compile(r"\?done=queued$"))
        assert "queued" in history.locator("tbody tr").first.inner_text()
        job = jobs.run_next(sessions, SystemClock())  # the harvest worker's turn
        assert job is not None and job.state == "succeeded"

        page.reload()
        rows = history.locator("tbody tr")
        assert rows.count() == 1
        cells = rows.first.locator("td").all_inner_texts()
        assert "succeeded" in cells[1] and cells[2:8] == ["2", "1", "0", "0", "0", "1"]  # listed .. failed
        rows.first.get_by_role("link", name=re.compile("^Report")).click()
        page.wait_for_url(f"**/harvest/jobs/{job.id}")
        assert page.get_by_role("heading", name=re.compile("^Harvest of ")).is_visible()
        assert "2 listed: 1 created" in page.locator("dl.facts").inner_text()
        report = page.locator("table.ws-table tbody tr")
        outcomes = {r.locator("code").inner_text(): r.locator("td").nth(1).inner_text()
                    for r in report.all()}
        assert outcomes == {"good": "created", "bad": "failed"}
        assert "not JSON" in report.filter(has_text="bad").inner_text()
        assert report.filter(has_text="good").get_by_role("link", name="dataset").is_visible()
        _shot(page, "harvest-report.png", tmp_path)

        page.get_by_label("Show").select_option("failed")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(re.compile(r"outcome=failed"))
        assert [r.locator("code").inner_text() for r in page.locator("table.ws-table tbody tr").all()] == ["bad"]
        context.close()
        assert not problems, problems
