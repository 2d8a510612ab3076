"""The catalogue's JSON API and pages over HTTP, on both databases."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.identity import service as identity
from healthgate.identity.permissions import SYSTEM
from tests.conftest import load_fixture


@pytest.fixture
def client(db, clock, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    app = create_app(settings, clock=clock)
    with db.sessions.begin() as s:
        token = identity.create_token(s, SYSTEM, "test admin", is_admin=True, clock=clock)
    with TestClient(app) as c:
        c.admin = {"Authorization": f"Bearer {token}"}
        yield c


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
