"""The catalogue's JSON API and pages over HTTP, on both databases."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.config import Settings
from tests.conftest import load_fixture, make_token


@pytest.fixture
def client(db, clock, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    app = create_app(settings, clock=clock)
    with db.sessions.begin() as s:
        token = make_token(s, clock, "test admin", admin=True)
    with TestClient(app) as c:
        c.admin = {"Authorization": f"Bearer {token}"}
        yield c
    app.state.engine.dispose()


def _problem(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status and isinstance(body["errors"], list)
    return body


def test_create_publish_read(client):
    doc = load_fixture("hdruk-4.0.0-full.json")
    r = client.post("/api/v1/datasets?team=SAIL&member_group=ALLIANCE", json=doc, headers=client.admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["validation"]["valid"] is True and created["team"] == "SAIL"
    dsid = created["id"]
    assert client.get(f"/api/v1/datasets/{dsid}").status_code == 404  # drafts are private
    r = client.post(f"/api/v1/datasets/{dsid}/publish", headers=client.admin)
    assert r.status_code == 200, r.text
    r = client.get(f"/api/v1/datasets/{dsid}")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == 1 and body["metadata"] == doc and body["member_group"] == "ALLIANCE"
    assert body["medallion"] in {"platinum", "gold", "silver", "bronze", "not rated"}
    listing = client.get("/api/v1/datasets?page=1&per_page=5").json()
    assert listing["total"] == 1 and listing["page"] == 1 and listing["per_page"] == 5
    assert listing["items"][0]["id"] == dsid
    assert client.get(f"/api/v1/datasets/{dsid}/versions").json()[0]["version"] == 1
    assert client.get(f"/api/v1/datasets/{dsid}/versions/1").json()["title"] == body["title"]
    _problem(client.get(f"/api/v1/datasets/{dsid}/versions/7"), 404)
    page = client.get(f"/datasets/{dsid}")
    assert page.status_code == 200 and body["title"] in page.text
    assert body["title"] in client.get("/").text


def test_writes_need_the_admin_token(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    _problem(client.post("/api/v1/datasets?team=SAIL", json=doc), 401)
    _problem(client.post("/api/v1/datasets?team=SAIL", json=doc, headers={"Authorization": "Bearer nope"}), 401)


def test_validate_endpoint_stores_nothing(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    r = client.post("/api/v1/validate", json=doc)
    assert r.status_code == 200
    assert r.json()["valid"] is True and r.json()["schema_version"] == "4.0.0"
    assert set(r.json()["quality"]) >= {"score", "medallion", "fields"}
    doc["provenance"]["temporal"]["startDate"] = "2020-13-01"
    doc["summary"]["surprise"] = True
    body = client.post("/api/v1/validate", json=doc).json()
    assert body["valid"] is False
    assert {e["path"] for e in body["errors"]} == {"$.provenance.temporal.startDate", "$.summary.surprise"}
    old = load_fixture("hdruk-2.1.2-full.json")
    assert client.post("/api/v1/validate", json=old).json()["schema_version"] == "2.1.2"
    assert client.post("/api/v1/validate?schema_version=3.0.0", json=old).json()["valid"] is False
    assert client.get("/api/v1/datasets").json()["total"] == 0


@pytest.mark.parametrize("body,path", [
    (b"{not json", "$"),
    (b"", "$"),
    (json.dumps({"schemaVersion": "1.0", "metadata": {}}).encode(), "$.schemaVersion"),
    (json.dumps([1, 2]).encode(), "$"),
])
def test_bad_bodies_are_problems(client, body, path):
    r = client.post("/api/v1/validate", content=body, headers={"content-type": "application/json"})
    err = _problem(r, 422)
    assert err["errors"][0]["path"] == path


def test_size_limit(client):
    big = b'{"x": "' + b"a" * (5 * 1024 * 1024 + 10) + b'"}'
    _problem(client.post("/api/v1/validate", content=big, headers={"content-type": "application/json"}), 413)


def test_query_errors_are_problems(client):
    err = _problem(client.get("/api/v1/datasets?per_page=1000"), 422)
    assert err["errors"][0]["path"] == "query.per_page"
    _problem(client.get("/api/v1/datasets/not-a-uuid"), 422)


@pytest.mark.parametrize("path", ["/api/v1/datasets", "/api/v1/search/datasets?q=cohort",
                                  "/api/v1/alliance/obligations", "/api/v1/audit"])
def test_unknown_query_parameters_are_refused_by_name(client, path):
    """A misspelt filter is an error naming it, on every operation (with or without a query model), not a
    filter silently ignored; a page of the site is left alone."""
    sep = "&" if "?" in path else "?"
    err = _problem(client.get(f"{path}{sep}stauts=approved&=x", headers=client.admin), 422)
    assert [e["path"] for e in err["errors"]] == ["query.stauts", "query.$"]  # the empty name too
    assert "takes" in err["errors"][0]["message"]
    assert client.get(path, headers=client.admin).status_code == 200
    assert client.get("/search?q=cohort&utm_source=newsletter").status_code == 200


def test_openapi(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/datasets" in spec["paths"] and "/api/v1/validate" in spec["paths"]


def test_dataset_page_has_every_section_and_schema_org(client):
    import re

    doc = load_fixture("hdruk-4.0.0-full.json")
    dsid = client.post("/api/v1/datasets?team=SAIL", json=doc, headers=client.admin).json()["id"]
    assert client.post(f"/api/v1/datasets/{dsid}/publish", headers=client.admin).status_code == 200
    page = client.get(f"/datasets/{dsid}").text
    for heading in ("Summary", "Documentation", "Coverage", "Provenance", "Accessibility", "Linkage",
                    "Structural metadata", "Metadata quality", "Version history"):
        assert f">{heading}</h2>" in page, heading
    table = doc["structuralMetadata"]["tables"][0]
    assert f"<caption>{table['name']}" in page and table["columns"][0]["name"] in page
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.DOTALL).group(1))
    assert ld["@type"] == "Dataset" and ld["name"] == doc["summary"]["title"]
    for key in ("description", "identifier", "keywords", "creator", "publisher", "url", "includedInDataCatalog",
                "version", "spatialCoverage", "temporalCoverage"):
        assert ld.get(key), key
    missing = client.get(f"/datasets/{uuid.uuid4()}")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_diff_page_and_api(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    dsid = client.post("/api/v1/datasets?team=SAIL", json=doc, headers=client.admin).json()["id"]
    client.post(f"/api/v1/datasets/{dsid}/publish", headers=client.admin)
    doc["summary"]["title"] = "A new title"
    r = client.put(f"/api/v1/datasets/{dsid}/draft", json=doc, headers=client.admin)
    assert r.status_code == 200, r.text
    client.post(f"/api/v1/datasets/{dsid}/publish", headers=client.admin)
    changes = client.get(f"/api/v1/datasets/{dsid}/diff?from=1&to=2").json()["changes"]
    assert changes == [{"path": "$.summary.title", "change": "changed", "old": "Wessex Atrial Fibrillation Audit",
                        "new": "A new title"}]
    page = client.get(f"/datasets/{dsid}/diff?from=1&to=2").text
    assert "$.summary.title" in page and "A new title" in page
    assert f"/datasets/{dsid}/diff?from=1&amp;to=2" in client.get(f"/datasets/{dsid}").text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml",
                                          None])
def test_json_bodies_must_say_they_are_json(client, content_type):
    body = json.dumps(load_fixture("hdruk-4.0.0-minimal.json")).encode()
    headers = {"content-type": content_type} if content_type else {}
    for url, auth in (("/api/v1/validate", {}), ("/api/v1/datasets?team=T", client.admin)):
        r = client.post(url, content=body, headers={**headers, **auth})
        err = _problem(r, 415)
        assert err["errors"][0]["path"] == "header.content-type" and (content_type or "no content type") in \
            err["detail"]
    assert client.post("/api/v1/validate", content=body,
                       headers={"content-type": "application/ld+json; charset=utf-8"}).status_code == 200


def test_anonymous_writes_learn_nothing_about_ids(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    private = client.post("/api/v1/datasets?team=T", json=doc, headers=client.admin).json()["id"]
    unknown = str(uuid.uuid4())
    for dsid in (private, unknown):
        for method, url in (("put", f"/api/v1/datasets/{dsid}/draft"), ("delete", f"/api/v1/datasets/{dsid}/draft"),
                            ("post", f"/api/v1/datasets/{dsid}/publish"), ("post", f"/api/v1/datasets/{dsid}/archive"),
                            ("post", f"/api/v1/datasets/{dsid}/unarchive")):
            r = client.request(method, url, json=doc)
            _problem(r, 401)
        assert client.get(f"/api/v1/datasets/{dsid}").status_code == 404
    _problem(client.put("/api/v1/datasets/not-a-uuid/draft", json=doc), 401)  # authentication comes first


def test_a_draft_is_seen_by_its_team_with_its_status(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    created = client.post("/api/v1/datasets?team=T", json=doc, headers=client.admin)
    assert created.status_code == 201
    dsid = created.json()["id"]
    assert created.headers["location"].endswith(f"/api/v1/datasets/{dsid}")
    r = client.get(f"/api/v1/datasets/{dsid}", headers=client.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "draft" and body["latest_version"] == 0 and body["title"] == doc["summary"]["title"]
    assert body["team"] == "T" and "metadata" not in body
    assert client.get(f"/api/v1/datasets/{dsid}").status_code == 404  # strangers still see nothing
    draft = client.get(f"/api/v1/datasets/{dsid}/draft", headers=client.admin).json()
    assert draft["draft"]["metadata"] == doc and draft["status"] == "draft"


def test_archived_datasets_are_gone_for_the_public(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    dsid = client.post("/api/v1/datasets?team=T", json=doc, headers=client.admin).json()["id"]
    client.post(f"/api/v1/datasets/{dsid}/publish", headers=client.admin)
    r = client.post(f"/api/v1/datasets/{dsid}/archive", headers=client.admin)
    assert r.status_code == 200 and r.json()["status"] == "archived"
    for url in (f"/api/v1/datasets/{dsid}", f"/api/v1/datasets/{dsid}/versions",
                f"/api/v1/datasets/{dsid}/versions/1", f"/api/v1/datasets/{dsid}/similar",
                f"/api/v1/datasets/{dsid}/diff?from=1&to=1"):
        err = _problem(client.get(url), 410)
        assert doc["summary"]["title"] in err["detail"] and "custodian" in err["detail"], url
    team_view = client.get(f"/api/v1/datasets/{dsid}", headers=client.admin)
    assert team_view.status_code == 200 and team_view.json()["status"] == "archived"
    assert client.post(f"/api/v1/datasets/{dsid}/unarchive", headers=client.admin).json()["status"] == "active"
    assert client.get(f"/api/v1/datasets/{dsid}").status_code == 200


def test_pages_link_to_each_other(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    for i in range(5):
        d = {**doc, "identifier": str(uuid.uuid4()), "summary": {**doc["summary"], "title": f"Dataset {i}"}}
        dsid = client.post("/api/v1/datasets?team=T", json=d, headers=client.admin).json()["id"]
        client.post(f"/api/v1/datasets/{dsid}/publish", headers=client.admin)
    first = client.get("/api/v1/datasets?per_page=2")
    body = first.json()
    assert body["prev"] is None and body["next"] == "http://testserver/api/v1/datasets?per_page=2&page=2"
    assert first.headers["link"] == f'<{body["next"]}>; rel="next"'
    last = client.get("/api/v1/datasets?per_page=2&page=3").json()
    assert last["next"] is None and last["prev"].endswith("per_page=2&page=2") and len(last["items"]) == 1
    seen = []
    url = "/api/v1/datasets?per_page=2"
    while url:
        page = client.get(url).json()
        seen += [i["id"] for i in page["items"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5
    search = client.get("/api/v1/search/datasets?q=dataset&per_page=4").json()
    assert search["next"].endswith("/api/v1/search/datasets?q=dataset&per_page=4&page=2") and search["prev"] is None
    _problem(client.get("/api/v1/search/datasets?sort=newest"), 422)
    assert "relevance" in client.get("/api/v1/search/datasets?sort=newest").json()["errors"][0]["message"]


def test_versions_are_cached_and_writes_take_if_match(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    created = client.post("/api/v1/datasets?team=T", json=doc, headers=client.admin)
    dsid, etag = created.json()["id"], created.headers["etag"]
    stale = etag
    doc["summary"]["title"] = "Changed"
    r = client.put(f"/api/v1/datasets/{dsid}/draft", json=doc, headers={**client.admin, "If-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] != etag
    etag = r.headers["etag"]
    err = _problem(client.post(f"/api/v1/datasets/{dsid}/publish", headers={**client.admin, "If-Match": stale}),
                   412)
    assert err["errors"][0]["path"] == "header.if-match"
    _problem(client.post(f"/api/v1/datasets/{dsid}/publish?row_version=1", headers=client.admin), 409)
    r = client.post(f"/api/v1/datasets/{dsid}/publish", headers={**client.admin, "If-Match": etag})
    assert r.status_code == 200, r.text
    latest = client.get(f"/api/v1/datasets/{dsid}")
    assert latest.headers["etag"] == r.headers["etag"] and "no-cache" in latest.headers["cache-control"]
    assert client.get(f"/api/v1/datasets/{dsid}", headers={"If-None-Match": latest.headers["etag"]}).status_code \
        == 304
    v1 = client.get(f"/api/v1/datasets/{dsid}/versions/1")
    assert v1.status_code == 200 and v1.json()["version"] == 1
    assert "immutable" in v1.headers["cache-control"] and not v1.headers["etag"].startswith("W/")
    again = client.get(f"/api/v1/datasets/{dsid}/versions/1", headers={"If-None-Match": v1.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get(f"/api/v1/datasets/{dsid}/versions/1", headers={"If-None-Match": '"other"'}).status_code \
        == 200
