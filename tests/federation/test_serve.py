"""The served HDR UK federation API (/federation/...) over HTTP, on both databases: answers validated against
the specification's own schemas (catalogue.openapi.yaml, gmi.schema.json, the HDR UK 4.0.0 schema) and the
Atom feed read by an XML parser with the Atom namespace."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.catalogue import service
from healthgate.catalogue.standard.validate import schema as hdruk_schema
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.federation import serve
from healthgate.identity import service as identity
from healthgate.identity.permissions import SYSTEM
from tests.conftest import load_fixture, shared_file

A = "{http://www.w3.org/2005/Atom}"
AT = "{http://purl.org/atompub/tombstones/1.0}"


def gmi_validator() -> jsonschema.Validator:
    """gmi.schema.json with its one self-contradictory rule repaired: ``@schema``'s first branch lists
    "latest" in its enum but its pattern (``^d.d.d$``) refuses it; the repaired branch keeps the enum only."""
    schema = json.loads(shared_file("federation/gmi.schema.json").read_text())
    branch = schema["definitions"]["dataset"]["properties"]["@schema"]["oneOf"][0]
    assert "latest" in branch["enum"] and branch.pop("pattern")
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def spec() -> dict:
    return yaml.safe_load(shared_file("federation/catalogue.openapi.yaml").read_text())


def spec_item_validator() -> jsonschema.Validator:
    items = spec()["paths"]["/datasets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"]["items"]
    return jsonschema.Draft7Validator(items)


@pytest.fixture
def site(db, clock, tmp_path):
    """A gateway with three public datasets, one archived and one draft only."""
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, base_url="https://gw.example.org",
                              max_per_page=25), clock=clock)
    doc = load_fixture("hdruk-4.0.0-full.json")
    ids = {}
    with db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        team = identity.get_or_create_team(ctx, "Wessex Heart", member_group="ALLIANCE")
        for name in ("alpha", "beta", "gamma", "archived"):
            d = copy.deepcopy(doc)
            d["identifier"] = None
            d["summary"]["title"] = f"BRIGHT-HF {name} cohort of adults hospitalised with a first episode of heart " \
                                    f"failure in five English and Welsh NHS trusts"
            ds, _ = service.create_draft(ctx, team.id, d)
            service.publish(ctx, ds.id)
            ids[name] = ds.id
            clock.advance(hours=1)
        service.archive(ctx, ids["archived"])
        draft, _ = service.create_draft(ctx, team.id, {**doc, "identifier": None})
        ids["draft"] = draft.id
    with TestClient(app) as c:
        c.ids = ids
        c.doc = doc
        c.db = db
        yield c
    app.state.engine.dispose()


def _problem(resp, status: int, where: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    if where:
        assert [e["path"] for e in body["errors"]] == [where], body
    return body


def test_the_list_is_what_the_specification_says(site):
    r = site.get("/federation/datasets")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    errors = list(gmi_validator().iter_errors(body))
    assert not errors, [e.message for e in errors]
    assert not list(spec_item_validator().iter_errors(body["items"]))
    assert body["query"] == {"q": "", "total": 3, "limit": 25, "offset": 0}
    public = sorted(str(site.ids[n]) for n in ("alpha", "beta", "gamma"))
    assert [i["persistentId"] for i in body["items"]] == public  # drafts and archived datasets never show
    first = body["items"][0]
    assert first["@schema"] == "latest" and first["type"] == "dataset"
    assert len(first["name"]) <= 80 and first["name"].endswith("…")
    assert first["self"] == f"https://gw.example.org/federation/datasets/{first['persistentId']}"
    assert first["version"] == "4.0.0" and first["source"] == "Wessex Heart Research Unit, University of Wessex"
    assert first["issued"] == "2019-03-14T09:30:00Z"
    datetime.fromisoformat(first["modified"])


def test_limit_and_offset_page_through_every_dataset_once(site):
    seen = []
    for offset in (0, 2, 4):
        body = site.get(f"/federation/datasets?limit=2&offset={offset}").json()
        assert body["query"]["total"] == 3 and body["query"]["limit"] == 2 and body["query"]["offset"] == offset
        seen += [i["persistentId"] for i in body["items"]]
    assert sorted(seen) == seen and len(set(seen)) == 3
    assert site.get("/federation/datasets?limit=1000").json()["query"]["limit"] == 25  # capped, and says so
    assert site.get("/federation/datasets?limit=0").json()["query"]["limit"] == 25  # 0: no limit of the client's
    assert site.get("/federation/datasets?limit=2.0").json()["query"]["limit"] == 2


@pytest.mark.parametrize(("query", "where"), [
    ("limit=abc", "query.limit"), ("limit=-1", "query.limit"), ("offset=1.5", "query.offset"),
    ("offset=99999999999", "query.offset"), ("limit=1&limit=2", "query.limit"), ("q=" + "x" * 501, "query.q"),
])
def test_bad_parameters_are_400_naming_the_parameter(site, query, where):
    _problem(site.get(f"/federation/datasets?{query}"), 400, where)


def test_q_searches(site):
    body = site.get("/federation/datasets?q=gamma").json()
    assert body["query"]["q"] == "gamma" and body["query"]["total"] >= 1
    assert body["items"][0]["persistentId"] == str(site.ids["gamma"])
    assert str(site.ids["archived"]) not in {i["persistentId"] for i in body["items"]}
    none = site.get("/federation/datasets?q=zebrafishxyz").json()
    assert none["query"]["total"] == 0 and none["items"] == []


def test_the_detail_is_the_latest_public_hdruk_document(site):
    dsid = site.ids["beta"]
    r = site.get(f"/federation/datasets/{dsid}")
    assert r.status_code == 200
    doc = r.json()
    assert doc["identifier"] == str(dsid)
    assert doc["summary"]["title"].startswith("BRIGHT-HF beta")
    validator = jsonschema.Draft202012Validator(hdruk_schema("4.0.0"))
    assert not [e.message for e in validator.iter_errors(doc)]
    # the same dataset the list names
    listed = {i["persistentId"]: i for i in site.get("/federation/datasets").json()["items"]}
    assert site.get(listed[str(dsid)]["self"].removeprefix("https://gw.example.org")).json() == doc


def test_only_public_datasets_have_a_detail(site):
    for name in ("archived", "draft"):
        _problem(site.get(f"/federation/datasets/{site.ids[name]}"), 404)
    _problem(site.get(f"/federation/datasets/{uuid.uuid4()}"), 404)
    _problem(site.get("/federation/datasets/not-a-uuid"), 400, "path.dataset_id")


def test_the_export_holds_the_changes_of_a_window_and_says_what_was_archived(site, clock):
    everything = site.get("/federation/export")
    assert everything.status_code == 200
    rows = everything.json()
    assert isinstance(rows, list)
    by_id = {r["identifier"]: r for r in rows}
    assert set(by_id) == {str(site.ids[n]) for n in ("alpha", "beta", "gamma", "archived")}
    assert by_id[str(site.ids["archived"])]["status"] == "archived"
    assert by_id[str(site.ids["archived"])]["summary"]["title"].startswith("BRIGHT-HF archived")
    assert by_id[str(site.ids["alpha"])]["summary"] == {**site.doc["summary"],
                                                        "title": by_id[str(site.ids["alpha"])]["summary"]["title"]}
    start = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)  # the fixture's clock: alpha at +0h, beta +1h, gamma +2h
    window = site.get("/federation/export", params={"from": "2026-01-15T10:00:00Z",
                                                    "until": "2026-01-15T11:00:00Z"}).json()
    assert [r["identifier"] for r in window] == [str(site.ids["beta"])]
    later = site.get("/federation/export", params={"from": start.replace(hour=12).isoformat()}).json()
    assert [r["identifier"] for r in later] == [str(site.ids["archived"])]  # archived at +4h
    assert site.get("/federation/export", params={"from": "2030-01-01"}).json() == []
    assert site.get("/federation/export", params={"from": "2026-02-01", "until": "2026-01-01"}).json() == []


@pytest.mark.parametrize(("params", "where"), [
    ({"from": "yesterday"}, "query.from"), ({"until": "2026-13-45"}, "query.until"), ({"until": ""}, "query.until"),
])
def test_a_bad_window_is_400(site, params, where):
    _problem(site.get("/federation/export", params=params), 400, where)


def test_the_feed_is_valid_atom_with_updated_times_and_tombstones(site):
    r = site.get("/federation/feed")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{A}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{A}{required}") is not None, required
    assert root.find(f"{A}link[@rel='self']").get("href") == "https://gw.example.org/federation/feed"
    entries = root.findall(f"{A}entry")
    assert [e.find(f"{A}id").text for e in entries] == [f"urn:uuid:{site.ids[n]}" for n in ("gamma", "beta", "alpha")]
    updated = [datetime.fromisoformat(e.find(f"{A}updated").text) for e in entries]
    assert updated == sorted(updated, reverse=True) and all(u.tzinfo for u in updated)
    assert datetime.fromisoformat(root.find(f"{A}updated").text) >= updated[0]
    for e in entries:
        assert e.find(f"{A}title").text.startswith("BRIGHT-HF")
        link = e.find(f"{A}link[@rel='describedby']").get("href")
        assert site.get(link.removeprefix("https://gw.example.org")).status_code == 200
    gone = root.findall(f"{AT}deleted-entry")
    assert [g.get("ref") for g in gone] == [f"urn:uuid:{site.ids['archived']}"]
    assert datetime.fromisoformat(gone[0].get("when")) > updated[0]


def test_the_feed_pages(site, monkeypatch):
    monkeypatch.setattr(serve, "FEED_PAGE", 3)
    first = ET.fromstring(site.get("/federation/feed").content)
    nxt = first.find(f"{A}link[@rel='next']").get("href")
    assert first.find(f"{A}link[@rel='last']").get("href") == nxt == "https://gw.example.org/federation/feed?page=2"
    assert first.find(f"{A}link[@rel='previous']") is None
    second = ET.fromstring(site.get("/federation/feed?page=2").content)
    assert second.find(f"{A}link[@rel='next']") is None
    assert second.find(f"{A}link[@rel='previous']").get("href") == "https://gw.example.org/federation/feed"
    ids = [e.find(f"{A}id").text for e in first.findall(f"{A}entry")] + \
          [g.get("ref") for g in first.findall(f"{AT}deleted-entry") + second.findall(f"{AT}deleted-entry")] + \
          [e.find(f"{A}id").text for e in second.findall(f"{A}entry")]
    assert len(ids) == len(set(ids)) == 4
    _problem(site.get("/federation/feed?page=3"), 404, "query.page")
    _problem(site.get("/federation/feed?page=0"), 400, "query.page")


def test_the_openapi_document_declares_the_federation_api(site):
    doc = site.get("/api/v1/openapi.json").json()
    ops = doc["paths"]
    assert {p for p in ops if p.startswith("/federation")} == {
        "/federation/datasets", "/federation/datasets/{dataset_id}", "/federation/export"}
    names = [p["name"] for p in ops["/federation/datasets"]["get"]["parameters"]]
    assert names == ["q", "limit", "offset"]  # as the specification names them
    assert [p["name"] for p in ops["/federation/export"]["get"]["parameters"]] == ["from", "until"]
    assert set(ops["/federation/datasets/{dataset_id}"]["get"]["responses"]) >= {"200", "400", "404"}


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_the_detail_is_served_as_gwdm_too(site, version):
    dsid = site.ids["alpha"]
    r = site.get(f"/federation/datasets/{dsid}", params={"schema": f"GWDM/{version}"})
    assert r.status_code == 200
    out = r.json()
    schema = json.loads(shared_file(f"gwdm/{version}.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert not [e.message for e in validator.iter_errors(out)]
    assert out["required"]["gatewayPid"] == str(dsid) and out["summary"]["title"].startswith("BRIGHT-HF alpha")
    _problem(site.get(f"/federation/datasets/{dsid}", params={"schema": "DCAT"}), 400, "query.schema")
