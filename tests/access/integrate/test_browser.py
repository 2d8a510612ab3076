"""A researcher in Debian's chromium, driven by Playwright: on the edit page they choose a file for the form's
required file question, save and submit, and download it from the application page; the access manager downloads
it from the part page. No page breaks its Content Security Policy. Skipped when /usr/bin/chromium is absent."""

from __future__ import annotations

import re

import pytest

from healthgate.access import service as access
from healthgate.access import templates
from tests.access.harness import on_disk
from tests.access.integrate.test_attachments_and_links import FILE_Q, PDF
from tests.web import live
from tests.web.live import BROWSER_MARKS

pytestmark = BROWSER_MARKS
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("integrate")
    with on_disk(data_dir, PASSWORD, "applicant", "manager_A") as (settings, sessions, world):
        with sessions.begin() as s:
            ctx = world.ctx(s, "system")
            templates.save_draft(ctx, world.teams["A"], [{"id": FILE_Q, "required": True}])
            templates.publish(ctx, world.teams["A"])
        with sessions.begin() as s:
            app_id = access.create(world.ctx(s, "applicant"), [world.datasets["A1"]], title="Files in a browser").id
    with live.serve(settings) as url:
        yield url, world, app_id


def sign_in(page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_upload_submit_and_download_in_a_browser(site, tmp_path):
    url, w, app_id = site
    protocol = tmp_path / "protocol.pdf"
    protocol.write_bytes(PDF)
    with live.chromium() as browser:
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        sign_in(page, url, "applicant@example.org")
        page.goto(f"{url}/applications/{app_id}/edit")
        page.locator(f'input[name="file:{FILE_Q}"]').set_input_files(str(protocol))
        page.get_by_role("button", name="Save and submit").click()
        page.wait_for_url(re.compile(r"/applications/[0-9a-f-]+\?done=submitted$"))
        with page.expect_download() as got:
            page.get_by_role("link", name="protocol.pdf").first.click()
        assert got.value.suggested_filename == "protocol.pdf"
        assert got.value.path().read_bytes() == PDF
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
        context.close()

        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        sign_in(page, url, "manager_a@example.org")
        page.goto(f"{url}/workspace/teams/{w.teams['A']}/applications/{app_id}")
        with page.expect_download() as got:
            page.get_by_role("link", name="protocol.pdf").first.click()
        assert got.value.path().read_bytes() == PDF
        context.close()
