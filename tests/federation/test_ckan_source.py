"""The CKAN adapter against a real HTTP server on 127.0.0.1 playing a CKAN action API."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from tests.federation.fake_catalogues import json_answer, run_adapter, serve
from tests.federation.test_ckan_mapping import CLASSIC


def packages(n: int) -> list[dict]:
    out = []
    for i in range(n):
        p = copy.deepcopy(CLASSIC)
        p["id"] = str(uuid.UUID(int=i + 1))
        p["name"] = f"package-{i:03d}"
        p["title"] = f"Package {i}"
        out.append(p)
    return out


def ckan_site(catalogue: list[dict], *, fail_start: int | None = None, strip_fields: bool = False,
              grow_after_first: bool = False, show_fails: bool = False, unwrapped: bool = False):
    state = {"pages": 0}

    def route(path: str, q: dict[str, str]):
        if path == "/api/3/action/package_search":
            start, rows = int(q.get("start", 0)), int(q.get("rows", 10))
            if fail_start is not None and start == fail_start:
                return 500, b"<html>Internal Server Error</html>", "text/html"
            state["pages"] += 1
            listed = sorted(catalogue, key=lambda p: p["id"]) if q.get("sort") == "id asc" else catalogue
            count = len(listed) + (1 if grow_after_first and state["pages"] > 1 else 0)
            page = listed[start:start + rows]
            if strip_fields:
                page = [{k: p[k] for k in ("id", "name", "title")} for p in page]
            if unwrapped:
                return json_answer(page)
            return json_answer({"help": "https://ckan.example/api/3/action/help_show?name=package_search",
                                "success": True, "result": {"count": count, "results": page, "sort": q.get("sort"),
                                                            "facets": {}, "search_facets": {}}})
        if path == "/api/3/action/package_show":
            if show_fails:
                return 500, b"oops", "text/plain"
            found = next((p for p in catalogue if q.get("id") in (p["id"], p["name"])), None)
            if found is None:
                return json_answer({"success": False, "error": {"message": "Not found", "__type": "Not Found Error"}},
                                   404)
            return json_answer({"success": True, "result": found})
        return None

    return route


def run(url: str, settings: dict | None = None):
    return run_adapter("ckan", url, settings)


def test_pages_through_the_whole_catalogue_in_a_stable_order():
    catalogue = packages(23)
    with serve(ckan_site(catalogue)) as site:
        items, incomplete, calls = run(site.base, {"rows": 10})
    assert incomplete is None
    assert [i.remote_id for i in items] == sorted(p["id"] for p in catalogue)
    assert calls == 3  # 10 + 10 + 3, no package_show: the search returned whole packages
    assert all(i.error is None and i.document["summary"]["title"].startswith("Package") for i in items)
    first = json.loads(items[0].content)
    assert "tracking_summary" not in first  # view counts are not content: they would make every run a change
    assert any("start=20" in r for r in site.requests)


def test_the_same_catalogue_gives_the_same_content_bytes():
    with serve(ckan_site(packages(5))) as site:
        a, _, _ = run(site.base)
        b, _, _ = run(site.base + "/api/3/action")
    assert [i.content for i in a] == [i.content for i in b]


def test_a_search_without_extras_asks_package_show():
    with serve(ckan_site(packages(3), strip_fields=True)) as site:
        items, incomplete, calls = run(site.base)
    assert incomplete is None and calls == 1 + 3
    assert all(i.document["accessibility"]["access"]["jurisdiction"] == ["GB-ENG"] for i in items)


def test_a_failing_package_show_falls_back_on_what_the_search_said():
    with serve(ckan_site(packages(2), strip_fields=True, show_fails=True)) as site:
        items, incomplete, _ = run(site.base)
    assert incomplete is None
    assert [i.document["summary"]["title"] for i in items] == ["Package 0", "Package 1"]


def test_a_failing_page_makes_the_listing_incomplete_after_what_was_read():
    with serve(ckan_site(packages(25), fail_start=10)) as site:
        items, incomplete, _ = run(site.base, {"rows": 10})
    assert len(items) == 10
    assert incomplete and "start=10" in incomplete and "HTTP 500" in incomplete


def test_a_catalogue_that_changes_while_listed_is_incomplete():
    with serve(ckan_site(packages(15), grow_after_first=True)) as site:
        items, incomplete, _ = run(site.base, {"rows": 10})
    assert len(items) >= 10
    assert incomplete and "changed while it was listed" in incomplete


def test_a_list_without_its_wrapper_is_still_read():
    with serve(ckan_site(packages(4), unwrapped=True)) as site:
        items, incomplete, _ = run(site.base, {"rows": 10})
    assert incomplete is None and len(items) == 4


def test_a_source_that_pages_for_ever_is_stopped():
    def forever(path, q):
        start = int(q.get("start", 0))
        return json_answer({"success": True, "result": {"count": 10**9, "results": [
            {"id": f"p{start + i}", "name": f"p{start + i}", "title": "x", "resources": [], "extras": [],
             "notes": ""} for i in range(2)]}})
    with serve(forever) as site:
        items, incomplete, _ = run(site.base, {"rows": 2, "max_pages": 5})
    assert len(items) == 10 and "max_pages" in incomplete


@pytest.mark.parametrize("body", [b"not json", b"{\"success\": false, \"error\": {\"message\": \"Access denied\"}}"])
def test_an_unreadable_first_page_says_why(body):
    with serve(lambda path, q: (200, body, "application/json")) as site:
        items, incomplete, _ = run(site.base)
    assert items == [] and incomplete and ("not JSON" in incomplete or "Access denied" in incomplete)


def test_the_harvest_s_common_settings_are_understood():
    with serve(ckan_site(packages(12))) as site:
        items, incomplete, _ = run(site.base, {"page_size": 5, "query": "stroke", "fq": "organization:wessex",
                                               "max_items": 7})
    assert all("rows=5" in r and "q=stroke" in r and "fq=organization%3Awessex" in r for r in site.requests)
    assert len(items) == 10 and "max_items" in incomplete  # two pages read, the third refused
