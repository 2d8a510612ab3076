"""The public pages over HTTP, on both databases: friendly errors, robots.txt, sitemap, favicon, archived
datasets, the record's own dates, readable diffs and values, links, and what the public sees of who published."""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.web import site
from tests.conftest import load_fixture, make_token

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _client(db, clock, tmp_path, **settings):
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, **settings), clock=clock)
    with db.sessions.begin() as s:
        admin = make_token(s, clock, "test admin", admin=True)
        other = make_token(s, clock, "someone else", admin=False)
    c = TestClient(app)
    c.admin = {"Authorization": f"Bearer {admin}"}
    c.other = {"Authorization": f"Bearer {other}"}
    return c


@pytest.fixture
def client(db, clock, tmp_path):
    with _client(db, clock, tmp_path) as c:
        yield c


def _create(client, doc, *, publish=True, team="SAIL"):
    doc = dict(doc, identifier=None)
    r = client.post(f"/api/v1/datasets?team={team}", json=doc, headers=client.admin)
    assert r.status_code == 201, r.text
    dsid = r.json()["id"]
    if publish:
        r = client.post(f"/api/v1/datasets/{dsid}/publish?accept_invalid=true", headers=client.admin)
        assert r.status_code == 200, r.text
    return dsid


def _republish(client, dsid, doc):
    r = client.put(f"/api/v1/datasets/{dsid}/draft", json=dict(doc, identifier=None), headers=client.admin)
    assert r.status_code == 200, r.text
    assert client.post(f"/api/v1/datasets/{dsid}/publish", headers=client.admin).status_code == 200


def _html(resp, status):
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith("text/html")
    return resp.text


def _jsonld(page):
    m = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.DOTALL)
    return json.loads(m.group(1)) if m else None


def _visible(page):
    """The page without its JSON-LD (which carries raw values on purpose)."""
    return re.sub(r"<script.*?</script>", "", page, flags=re.DOTALL)


def _section(page, key):
    m = re.search(rf'<section aria-labelledby="s-{key}">(.*?)</section>', page, re.DOTALL)
    assert m, key
    return m.group(1)


def _is_friendly_404(page):
    assert "Page not found" in page and "Not Found" not in page
    assert 'role="search"' in page and 'action="/search"' in page  # a way on: search ...
    assert 'href="/"' in page  # ... and home
    assert '<meta name="robots" content="noindex">' in page


# ---- friendly errors ----------------------------------------------------------------------------------


def test_unknown_pages_answer_a_friendly_404(client):
    _is_friendly_404(_html(client.get("/no/such/page"), 404))
    _is_friendly_404(_html(client.get(f"/datasets/{uuid.uuid4()}"), 404))


def test_a_dataset_path_that_is_not_a_uuid_is_404_not_422(client):
    for path in ("/datasets/not-a-uuid", "/datasets/not-a-uuid/diff?from=1&to=2", "/datasets/%3Cscript%3E"):
        page = _html(client.get(path), 404)
        _is_friendly_404(page)
        assert "UUID" not in page and "<script>" not in page
    assert "not a dataset identifier" in client.get("/datasets/not-a-uuid").text
    # the JSON API keeps answering problems, never the HTML page
    assert client.get("/api/v1/datasets/not-a-uuid").headers["content-type"].startswith("application/problem+json")


def test_a_draft_never_published_is_not_shown_to_the_public(client):
    dsid = _create(client, load_fixture("hdruk-4.0.0-minimal.json"), publish=False)
    _is_friendly_404(_html(client.get(f"/datasets/{dsid}"), 404))
    _html(client.get(f"/datasets/{dsid}", headers=client.other), 404)


# ---- robots.txt, sitemap.xml, favicon -----------------------------------------------------------------


def test_robots_txt_allows_pages_keeps_crawlers_off_the_api_and_names_the_sitemap(client):
    r = client.get("/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert lines[0] == "User-agent: *" and "Allow: /" in lines
    assert {"Disallow: /api/", "Disallow: /search?"} <= set(lines)
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    assert not any(line == "Disallow: /" or line.startswith("Disallow: /datasets/ ") for line in lines)


def _urls(resp):
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(resp.content)
    assert root.tag == f"{SM}urlset"
    return {u.findtext(f"{SM}loc"): u.findtext(f"{SM}lastmod") for u in root.findall(f"{SM}url")}


def test_sitemap_lists_public_datasets_only_with_lastmod(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    public = _create(client, doc)
    archived = _create(client, doc)
    draft = _create(client, doc, publish=False)
    assert client.post(f"/api/v1/datasets/{archived}/archive", headers=client.admin).status_code == 200
    urls = _urls(client.get("/sitemap.xml"))
    assert set(urls) == {"http://testserver/", f"http://testserver/datasets/{public}"}
    lastmod = urls[f"http://testserver/datasets/{public}"]
    assert datetime.fromisoformat(lastmod).isoformat().startswith("2026-01-15T09:30:00")  # the clock's time
    assert all(draft not in u and archived not in u for u in urls)


def test_a_large_sitemap_becomes_an_index_of_files_within_the_limit(client, monkeypatch):
    monkeypatch.setattr(site, "URLS_PER_SITEMAP", 2)
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    ids = {_create(client, doc) for _ in range(4)}  # + the home page: 5 URLs, so 3 files of at most 2
    r = client.get("/sitemap.xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{SM}sitemapindex"
    files = [s.findtext(f"{SM}loc") for s in root.findall(f"{SM}sitemap")]
    assert files == [f"http://testserver/sitemaps/datasets-{n}.xml" for n in (1, 2, 3)]
    seen: list[str] = []
    for f in files:
        urls = _urls(client.get(f.removeprefix("http://testserver")))
        assert 1 <= len(urls) <= 2
        seen += urls
    assert sorted(seen) == sorted(["http://testserver/"] + [f"http://testserver/datasets/{i}" for i in ids])
    assert client.get("/sitemaps/datasets-4.xml").status_code == 404


def test_favicon(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.text.lstrip().startswith("<svg")
    assert 'rel="icon"' in client.get("/").text and "favicon.svg" in client.get("/").text


# ---- base URL -------------------------------------------------------------------------------------------


def test_jsonld_and_sitemap_use_the_address_the_site_is_served_on(db, clock, tmp_path):
    with _client(db, clock, tmp_path) as c:
        c.base_url = "http://127.0.0.1:8123"  # served on another port, HEALTHGATE_BASE_URL not set
        dsid = _create(c, load_fixture("hdruk-4.0.0-minimal.json"))
        ld = _jsonld(c.get(f"/datasets/{dsid}").text)
        assert ld["@id"] == ld["url"] == f"http://127.0.0.1:8123/datasets/{dsid}"
        assert ld["includedInDataCatalog"]["url"] == "http://127.0.0.1:8123/"
        assert f"http://127.0.0.1:8123/datasets/{dsid}" in c.get("/sitemap.xml").text
    with _client(db, clock, tmp_path, base_url="https://gateway.example.org/") as c:
        ld = _jsonld(c.get(f"/datasets/{dsid}").text)
        assert ld["@id"] == f"https://gateway.example.org/datasets/{dsid}"
        assert "Sitemap: https://gateway.example.org/sitemap.xml" in c.get("/robots.txt").text
        assert f'<link rel="canonical" href="https://gateway.example.org/datasets/{dsid}">' in c.get(
            f"/datasets/{dsid}").text


# ---- archived datasets ----------------------------------------------------------------------------------


def test_an_archived_dataset_keeps_a_page_that_says_so(client):
    doc = load_fixture("hdruk-4.0.0-full.json")
    dsid = _create(client, doc)
    _republish(client, dsid, doc)
    assert client.post(f"/api/v1/datasets/{dsid}/archive", headers=client.admin).status_code == 200
    for path in (f"/datasets/{dsid}", f"/datasets/{dsid}?version=1", f"/datasets/{dsid}/diff?from=1&to=2"):
        page = _html(client.get(path), 410)
        assert "archived" in page and doc["summary"]["title"] in page
        assert '<meta name="robots" content="noindex">' in page
    page = client.get(f"/datasets/{dsid}").text
    assert "This dataset has been archived" in page
    assert doc["summary"]["dataCustodian"]["name"] in page  # who holds it
    assert doc["summary"]["abstract"] in page and ">Linkage</h2>" in page  # its last public metadata
    assert _jsonld(page) is None  # no longer offered as a live dataset
    assert client.get(f"/datasets/{dsid}?version=9").status_code == 404
    # unarchived, it is a live page again
    assert client.post(f"/api/v1/datasets/{dsid}/unarchive", headers=client.admin).status_code == 200
    page = _html(client.get(f"/datasets/{dsid}"), 200)
    assert "This dataset has been archived" not in page and _jsonld(page) is not None


# ---- the record's own dates and version -----------------------------------------------------------------


def test_the_page_shows_the_records_own_dates_and_version(client):
    doc = load_fixture("hdruk-4.0.0-full.json")  # issued 2019-03-14, modified 2025-01-10, version 4.0.0
    dsid = _create(client, doc)
    page = client.get(f"/datasets/{dsid}").text
    facts = re.search(r'<dl class="facts">(.*?)</dl>', page, re.DOTALL).group(1)
    assert re.search(r"<dt>Version</dt><dd>4\.0\.0</dd>", facts)
    assert re.search(r'<dt>Issued</dt><dd><time datetime="2019-03-14">14 Mar 2019</time>', facts)
    assert re.search(r'<dt>Last modified</dt><dd><time datetime="2025-01-10">10 Jan 2025</time>', facts)
    # healthgate's own publication time is secondary, after the record's dates
    secondary = re.search(r'<p class="meta secondary">(.*?)</p>', page, re.DOTALL).group(1)
    assert "published here" in secondary and "15 Jan 2026" in secondary
    assert page.index('class="facts"') < page.index('class="meta secondary"')
    ld = _jsonld(page)
    assert ld["datePublished"] == "2019-03-14" and ld["dateModified"] == "2025-01-10" and ld["version"] == "4.0.0"


def test_a_record_without_dates_falls_back_to_the_publication_time(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["issued"] = "sometime in 2019"
    del doc["modified"]
    dsid = _create(client, doc)
    page = client.get(f"/datasets/{dsid}").text
    assert "<dt>Issued</dt><dd>sometime in 2019</dd>" in page and "Last modified" not in page
    assert _jsonld(page)["datePublished"] == "2026-01-15" and "dateModified" not in _jsonld(page)


# ---- readable values ------------------------------------------------------------------------------------


def test_diff_page_shows_list_items_added_and_removed(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["summary"]["keywords"] = ["atrial fibrillation", "anticoagulation"]
    dsid = _create(client, doc)
    doc["summary"]["keywords"] = ["anticoagulation", "stroke prevention"]
    doc["summary"]["populationSize"] = 950000
    _republish(client, dsid, doc)
    page = _html(client.get(f"/datasets/{dsid}/diff?from=1&to=2"), 200)
    assert "['" not in page and "&#39;" not in page  # no Python reprs
    assert re.search(r"<del>.*?atrial fibrillation</del>", page)
    assert re.search(r"<ins>.*?stroke prevention</ins>", page)
    assert "1 added, 1 removed" in page
    assert "Summary › Keywords" in page and "Summary › Population size" in page
    assert "950,000" in page and "38,211" in page


def test_quality_table_and_schema_problems_use_field_names(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["summary"]["surprise"] = True
    dsid = _create(client, doc)
    quality = re.search(r'<section aria-labelledby="quality-h".*?</section>', client.get(f"/datasets/{dsid}").text,
                        re.DOTALL).group(0)
    assert "Documentation › Description" in quality and "documentation.description" not in quality
    assert "Summary › Surprise" in quality and "$.summary" not in quality


def test_population_reads_with_thousands_separators(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["summary"]["populationSize"] = 950000
    dsid = _create(client, doc)
    page = _visible(client.get(f"/datasets/{dsid}").text)
    assert "950,000 people" in page and "<dd>950,000</dd>" in page
    assert "950000" not in page


def test_emails_dois_and_urls_are_links_and_nothing_else_is(client):
    doc = load_fixture("hdruk-4.0.0-full.json")
    doc["accessibility"]["access"]["accessRights"] = "javascript:alert(1)"
    doc["summary"]["abstract"] = 'See <b>this</b> data:text/html,<script>x</script> or https://example.org/a.'
    dsid = _create(client, doc)
    page = _visible(client.get(f"/datasets/{dsid}").text)
    assert '<a href="mailto:bright-hf@wessexheart.ac.uk" rel="nofollow ugc">bright-hf@wessexheart.ac.uk</a>' in page
    assert '<a href="https://doi.org/10.5555/bright-hf.2021.014"' in page  # publicationAboutDataset
    assert '<a href="https://www.wessexheart.ac.uk/bright-hf/projects/sglt2-outcomes"' in page
    assert '<a href="https://example.org/a" rel="nofollow ugc">https://example.org/a</a>.' in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert all(h.startswith(("/", "http://testserver/", "https://", "http://", "mailto:", "#")) for h in hrefs), hrefs
    assert "<b>this</b>" not in page and "<script>x" not in page and "javascript:alert(1)" in page


def test_linkage_sections_name_the_linked_datasets(client):
    doc = load_fixture("hdruk-4.0.0-full.json")
    dsid = _create(client, doc)
    linkage = _section(client.get(f"/datasets/{dsid}").text, "enrichmentAndLinkage")
    assert "<dt>Title</dt>" not in linkage and "<dt>Url</dt>" not in linkage
    assert re.search(r"<dt>Is part of</dt><dd><ul><li>Wessex Cardiovascular Cohorts Programme</li>", linkage)
    assert ('<a href="https://www.wessexheart.ac.uk/datasets/acute-admissions" rel="nofollow ugc">'
            "Wessex Acute Admissions Register</a>") in linkage
    assert re.search(r"ONS Death Registrations <span class=\"meta\">\(<a href=\"https://doi.org/10.5555/ons-", linkage)


# ---- versions -------------------------------------------------------------------------------------------


def test_an_old_version_says_a_newer_one_exists(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    dsid = _create(client, doc)
    doc["summary"]["title"] = "Wessex AF Audit, second edition"
    _republish(client, dsid, doc)
    old = _html(client.get(f"/datasets/{dsid}?version=1"), 200)
    assert "This is an older version" in old
    assert f'<a href="/datasets/{dsid}">see the latest, version 2</a>' in old
    assert f"/datasets/{dsid}/diff?from=1&amp;to=2" in old
    assert "This is an older version" not in client.get(f"/datasets/{dsid}").text
    assert "This is an older version" not in client.get(f"/datasets/{dsid}?version=2").text


def test_version_history_names_the_publisher_only_to_the_team(client):
    dsid = _create(client, load_fixture("hdruk-4.0.0-minimal.json"))

    def history(**kw):
        page = client.get(f"/datasets/{dsid}", **kw).text
        return re.search(r'<section aria-labelledby="versions-h">(.*?)</section>', page, re.DOTALL).group(1)

    for public in (history(), history(headers=client.other)):
        assert "SAIL" in public and "token:" not in public and "test admin" not in public
    assert "test admin" in history(headers=client.admin)
