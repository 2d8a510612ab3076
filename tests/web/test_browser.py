"""Real user journeys in Debian's chromium, driven by Playwright: search, tick a facet, remove a chip, open a
dataset; follow a broken link and an archived dataset's cited link. Skipped when /usr/bin/chromium is absent
(``.ci/run`` installs it, so CI always runs these).

Set HEALTHGATE_SCREENSHOTS=docs/screenshots to refresh the screenshots used by the README.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from healthgate.catalogue.importer import import_items
from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.identity.permissions import SYSTEM
from healthgate.interop.sources import read_sources
from healthgate.migrate import upgrade
from tests.conftest import CORPUS, make_token
from tests.web import live
from tests.web.live import BROWSER_MARKS

ADMIN_TOKENS: dict[str, str] = {}  # server URL -> an admin token for the API (archiving in a journey)
pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("browser")
    settings = Settings(data_dir=data)  # no base URL configured: pages name the address they are served on
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    items, errors, _ = read_sources([CORPUS])
    assert not errors
    with transaction(make_sessionmaker(engine)) as s:
        import_items(Context(s, SYSTEM, SystemClock()), items, accept_invalid=True)
        token = make_token(s, SystemClock(), "browser admin", admin=True)
    engine.dispose()
    with live.serve(settings) as url:
        ADMIN_TOKENS[url] = token
        yield url


@pytest.fixture(scope="module")
def browser():
    with live.chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def _shot(page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("HEALTHGATE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=False)


def _total(page) -> int:
    return int(page.locator("#results-h").inner_text().split()[0])


def test_search_facet_chip_and_dataset(server, page, tmp_path):
    page.goto(server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_label("Search datasets").fill("asthma")
    page.get_by_label("Search datasets").press("Enter")
    page.wait_for_url("**/search?q=asthma*")
    total = _total(page)
    assert total > 5
    assert page.locator("ol.results li mark").count() > 0

    # tick the first custodian: the page applies it at once (script) and shows it as a chip
    first = page.locator("#facet-custodian input[type=checkbox]").first
    custodian = first.get_attribute("value")
    first.check()
    page.wait_for_url("**custodian=*")
    chip = page.get_by_role("link", name=f"Remove filter Data custodian: {custodian}")
    assert chip.is_visible()
    narrowed = _total(page)
    assert 0 < narrowed < total
    assert page.locator("#facet-custodian input[type=checkbox]:checked").count() == 1
    _shot(page, "search-results.png", tmp_path)

    chip.click()
    page.wait_for_load_state()
    assert _total(page) == total
    assert page.get_by_role("link", name=f"Remove filter Data custodian: {custodian}").count() == 0

    title = page.locator("ol.results li h2 a").first.inner_text()
    page.locator("ol.results li h2 a").first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == title
    jsonld = json.loads(page.locator('script[type="application/ld+json"]').inner_text())
    assert jsonld["@id"] == page.url.split("?")[0] and jsonld["@id"].startswith(server + "/datasets/")
    # the record's own dates first; healthgate's publication time is secondary
    assert page.locator("dl.facts dt", has_text="Issued").is_visible()
    assert "published here" in page.locator("p.secondary").inner_text()
    assert page.get_by_role("heading", name="Version history").is_visible()
    _shot(page, "dataset-page.png", tmp_path)


def test_works_without_javascript(server, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "/search?q=covid")
    total = _total(page)
    page.locator("#facet-member_group input[type=checkbox]").first.check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state()
    assert "member_group=" in page.url and _total(page) <= total
    page.get_by_label("Sort by").select_option("title")
    page.get_by_role("button", name="Sort").click()
    page.wait_for_load_state()
    titles = page.locator("ol.results li h2 a").all_inner_texts()
    assert titles == sorted(titles, key=str.casefold)
    context.close()


def test_mobile_layout(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(server + "/search?q=diabetes")
    # one column: the results come before the filters, nothing scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    results_top = page.locator("section.hits").bounding_box()["y"]
    facets_top = page.locator("aside.facets").bounding_box()["y"]
    assert results_top < facets_top
    context.close()


def test_a_broken_link_and_an_archived_datasets_cited_link(server, page, tmp_path):
    url, token = server, ADMIN_TOKENS[server]
    # a mistyped dataset link: a friendly page that says so and offers a search, not a parser error
    response = page.goto(url + "/datasets/not-a-uuid")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert page.get_by_role("link", name="Go to the home page").is_visible()
    box = page.get_by_role("search").get_by_label("Search datasets")
    box.focus()
    page.keyboard.type("asthma")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=asthma*")
    assert _total(page) > 5

    # a dataset someone cited is archived: the link still says what it was and who holds it
    link = page.locator("ol.results li h2 a").first
    title, href = link.inner_text(), link.get_attribute("href")
    headers = {"Authorization": f"Bearer {token}"}
    dataset_id = href.rsplit("/", 1)[-1]
    assert httpx.post(f"{url}/api/v1/datasets/{dataset_id}/archive", headers=headers).status_code == 200
    try:
        response = page.goto(url + href)
        assert response.status == 410
        assert page.get_by_role("heading", level=1).inner_text() == title
        notice = page.get_by_role("note")
        assert notice.get_by_role("heading", name="This dataset has been archived").is_visible()
        assert page.get_by_role("heading", name="Version history").is_visible()
        assert page.locator('script[type="application/ld+json"]').count() == 0
        _shot(page, "archived-dataset.png", tmp_path)
        page.goto(url + "/search?q=" + title.replace(" ", "+"))
        assert title not in page.locator("ol.results").inner_text()  # no longer offered in search
    finally:
        assert httpx.post(f"{url}/api/v1/datasets/{dataset_id}/unarchive", headers=headers).status_code == 200


def test_dataset_page_on_a_small_screen_with_the_keyboard(server, browser):
    url = server
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(url + "/search?q=structural+metadata")
    page.locator("ol.results li h2 a").first.click()
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # the skip link leads past the header; the section links are reachable by keyboard
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    first_section = page.get_by_role("navigation", name="Sections").get_by_role("link").first
    first_section.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash").startswith("#s-")
    context.close()
