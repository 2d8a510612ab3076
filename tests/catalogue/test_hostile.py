"""Hostile and odd input gets a clear 4xx, never a server error; races get 409."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.audit import service as audit
from healthgate.catalogue import service
from healthgate.catalogue.importer import ImportItem, import_items
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import service as identity
from healthgate.identity.permissions import SYSTEM
from tests.conftest import load_fixture, make_token


@pytest.fixture
def client(db, clock, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), clock=clock)
    with db.sessions.begin() as s:
        token = make_token(s, clock, "t", admin=True)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.admin = {"Authorization": f"Bearer {token}"}
        yield c


def _minimal(**changes):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc.update(changes)
    return doc


BODIES = [
    ("deep", ("[" * 100_000 + "]" * 100_000).encode()),
    ("huge int", ('{"summary": {"title": "x"}, "n": ' + "9" * 5000 + "}").encode()),
    ("nested 300", json.dumps(_minimal(extra=json.loads("[" * 300 + "]" * 300))).encode()),
    ("int64 overflow", json.dumps(_minimal(summary={**_minimal()["summary"], "populationSize": 10**20})).encode()),
    ("NUL", json.dumps(_minimal(summary={**_minimal()["summary"], "title": "a\u0000b"})).encode()),
    ("temporal is a number", json.dumps({"summary": {"title": "x"}, "provenance": {"temporal": 5}}).encode()),
    ("origin is a list", json.dumps({"summary": {"title": "x"}, "provenance": {"origin": [1]}}).encode()),
]


@pytest.mark.parametrize("name,body", BODIES, ids=[b[0] for b in BODIES])
def test_hostile_documents(client, name, body):
    headers = {"content-type": "application/json", **client.admin}
    for url in ("/api/v1/validate", "/api/v1/datasets?team=T"):
        r = client.post(url, content=body, headers=headers)
        assert r.status_code < 500, (url, r.status_code, r.text[:300])


def test_huge_numbers_in_urls(client):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    dsid = client.post("/api/v1/datasets?team=T", json=doc, headers=client.admin).json()["id"]
    big = "1" + "0" * 20
    for url in (f"/api/v1/datasets/{dsid}/versions/{big}", f"/api/v1/datasets/{dsid}/diff?from=1&to={big}",
                f"/datasets/{dsid}?version={big}", f"/datasets/{dsid}/diff?from={big}&to=1"):
        assert client.get(url, headers=client.admin).status_code in (404, 422), url


def test_bad_record_fails_alone_in_a_partial_import(db, clock):
    big = _minimal(identifier=None, padding="x" * (6 * 1024 * 1024))
    odd = _minimal(identifier=None, provenance=5)
    items = [ImportItem("good.json", _minimal()), ImportItem("big.json", big), ImportItem("odd.json", odd)]
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), items, team="T", partial=True, accept_invalid=True)
    assert report.created == 2 and report.failed == 1
    assert report.errors[0].path.startswith("big.json")


def test_reused_dataset_id_keeps_a_valid_audit_chain(db, clock):
    with db.sessions.begin() as s:
        team = identity.get_or_create_team(Context(s, SYSTEM, clock), "T", member_group=None)
        ds, _ = service.create_draft(Context(s, SYSTEM, clock), team.id, _minimal())
        service.discard_draft(Context(s, SYSTEM, clock), ds.id)
        service.create_draft(Context(s, SYSTEM, clock), team.id, _minimal())
        service.discard_draft(Context(s, SYSTEM, clock), ds.id)
    with db.sessions.begin() as s:
        import_items(Context(s, SYSTEM, clock), [ImportItem("a.json", _minimal())], team="T")
    with db.sessions() as s:
        assert len(audit.history(s, "dataset", ds.id)) == 5
        assert audit.verify(s, "dataset", ds.id)


def test_jsonld_cannot_break_the_page(db, clock, client):
    doc = _minimal()
    doc["summary"]["abstract"] = "An abstract <!--<script> and </script> & more"
    dsid = client.post("/api/v1/datasets?team=T", json=doc, headers=client.admin).json()["id"]
    client.post(f"/api/v1/datasets/{dsid}/publish", headers=client.admin)
    page = client.get(f"/datasets/{dsid}").text
    ld = page.split('<script type="application/ld+json">')[1].split("</script>")[0]
    assert "<" not in ld and json.loads(ld)["description"].startswith("An abstract <!--<script>")
    assert "Version history" in page.split("</script>", 1)[1]


def _envelope_with(raw_title: str) -> bytes:
    doc = json.dumps(_minimal())
    return doc.replace('"title": ', f'"title": {raw_title}, "was": ', 1).encode()


# Raw JSON text (escapes as sent on the wire), the JSON path the answer must name.
NOT_TEXT_OR_NOT_NUMBERS = [
    ("surrogate in a value", _envelope_with(r'"Heart \ud800 study"'), "$.summary.title"),
    ("low surrogate alone", _envelope_with(r'"\udfff"'), "$.summary.title"),
    ("surrogate in a key", json.dumps(_minimal()).replace('"summary": {', r'"summary": {"k\udc00": 1, ', 1).encode(),
     '$.summary["k\\udc00"]'),
    ("surrogate inside the envelope", (r'{"schemaVersion": "4.0.0", "metadata": '
                                       + json.dumps(_minimal()).replace('"title": ', r'"title": ["\ud801"], "x": ', 1)
                                       + "}").encode(), "$.metadata.summary.title[0]"),
    ("NaN", json.dumps(_minimal()).replace('"populationSize": ', '"populationSize": NaN, "x": ', 1).encode(),
     "$.summary.populationSize"),
    ("Infinity", _envelope_with("Infinity"), "$.summary.title"),
    ("-Infinity in a list", _envelope_with("[1, -Infinity]"), "$.summary.title[1]"),
    ("a float that overflows", _envelope_with("1e999"), "$.summary.title"),
]


@pytest.mark.parametrize("name,body,path", NOT_TEXT_OR_NOT_NUMBERS, ids=[b[0] for b in NOT_TEXT_OR_NOT_NUMBERS])
def test_unpaired_surrogates_and_non_finite_numbers_are_named(client, name, body, path):
    headers = {"content-type": "application/json", **client.admin}
    with client.app.state.sessions() as s:
        events = audit_count(s)
    for url in ("/api/v1/validate", "/api/v1/datasets?team=T"):
        r = client.post(url, content=body, headers=headers)
        assert r.status_code == 422, (url, r.status_code, r.text[:300])
        assert path in [e["path"] for e in r.json()["errors"]], (url, r.json())
    with client.app.state.sessions() as s:
        assert audit_count(s) == events  # nothing written: no team, no dataset


def audit_count(session) -> int:
    from sqlalchemy import func, select

    from healthgate.audit.models import AuditEvent

    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_a_valid_surrogate_pair_is_text(client):
    body = _envelope_with(r'"Heart \ud83e\udec0 study"')  # an escaped emoji: a pair, not a lone surrogate
    r = client.post("/api/v1/validate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text[:300]


def test_documents_from_python_are_checked_too(db, clock):
    from healthgate.errors import Invalid

    doc = _minimal()
    doc["summary"]["populationSize"] = float("nan")
    doc["summary"]["abstract"] = "half a pair \ud800"
    with db.sessions.begin() as s, pytest.raises(Invalid) as exc:
        team = identity.get_or_create_team(Context(s, SYSTEM, clock), "T", member_group=None)
        service.create_draft(Context(s, SYSTEM, clock), team.id, doc)
    assert {e.path for e in exc.value.errors} == {"$.summary.populationSize", "$.summary.abstract"}


def test_size_limit_comes_from_the_caller():
    from healthgate.catalogue.metadata import MAX_DOCUMENT_BYTES, check_size
    from healthgate.config import Settings
    from healthgate.errors import TooLarge

    doc = _minimal(padding="x" * 4000)
    check_size(doc)  # the default limit
    assert MAX_DOCUMENT_BYTES == Settings.model_fields["max_document_bytes"].default
    with pytest.raises(TooLarge) as exc:
        check_size(doc, limit=Settings(max_document_bytes=2048).max_document_bytes)
    assert "the limit is 2048" in exc.value.errors[0].message


@pytest.mark.parametrize("version", ["2.0.2", "2.1.0", "2.1.3", "2.2.0", "2.2.1"])
def test_envelope_without_schema_version_through_the_api(client, version):
    doc = load_fixture(f"hdruk-{version}-full.json")
    r = client.post("/api/v1/validate", json={"metadata": doc})
    assert r.status_code == 200, r.text[:300]
    assert (r.json()["schema_version"], r.json()["valid"]) == (version, True)
    r = client.post("/api/v1/datasets?team=T", json={"metadata": doc}, headers=client.admin)
    assert r.status_code == 201, r.text[:300]
    assert r.json()["validation"]["schema_version"] == version
