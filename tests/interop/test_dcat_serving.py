"""The served DCAT-AP catalogue over HTTP, on both databases: Hydra paging walks every public dataset once,
each page validates against the official shapes, per-dataset RDF by content negotiation and by suffix,
drafts and archived datasets stay out, and the CLI export streams the whole catalogue."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, RDF
from typer.testing import CliRunner

from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.federation import dcat_routes
from healthgate.interop import dcat, dcat_read, shacl
from tests.conftest import load_fixture, make_token

PARSE = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}


@pytest.fixture
def client(db, clock, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), clock=clock)
    with db.sessions.begin() as s:
        admin = make_token(s, clock, "test admin", admin=True)
    with TestClient(app) as c:
        c.admin = {"Authorization": f"Bearer {admin}"}
        yield c


def _create(client, doc, *, publish=True):
    r = client.post("/api/v1/datasets?team=SAIL", json=dict(doc, identifier=None), headers=client.admin)
    assert r.status_code == 201, r.text
    dsid = r.json()["id"]
    if publish:
        r = client.post(f"/api/v1/datasets/{dsid}/publish?accept_invalid=true", headers=client.admin)
        assert r.status_code == 200, r.text
    return dsid


def _docs(n):
    base = load_fixture("hdruk-4.0.0-full.json")
    out = []
    for i in range(n):
        d = json.loads(json.dumps(base))
        d["summary"]["title"] = f"Cohort {i:02d}"
        d["summary"]["populationSize"] = 1000 + i
        out.append(d)
    return out


def _walk(client, ext, per_page):
    url, seen, pages = f"/catalog.{ext}?per_page={per_page}", [], 0
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(dcat_routes.MEDIA[ext])
        g = Graph().parse(data=r.content, format=PARSE[ext])
        report = shacl.validate(g)
        assert report.conforms and not report.violations, report.text()
        seen += [str(d) for d in g.subjects(RDF.type, DCAT.Dataset)]
        views = list(g.subjects(RDF.type, dcat.HYDRA.PartialCollectionView))
        assert len(views) == 1
        nxt = g.value(views[0], dcat.HYDRA.next)
        url = str(nxt).removeprefix("http://testserver") if nxt else None
        pages += 1
    return seen, pages


@pytest.mark.parametrize("ext", ["ttl", "jsonld", "rdf"])
def test_catalogue_pages_walk_every_public_dataset_once(client, ext):
    ids = [_create(client, d) for d in _docs(5)]
    draft = _create(client, _docs(1)[0], publish=False)
    archived = _create(client, _docs(1)[0])
    assert client.post(f"/api/v1/datasets/{archived}/archive", headers=client.admin).status_code == 200
    seen, pages = _walk(client, ext, per_page=2)
    assert pages == 3
    assert sorted(seen) == sorted(f"http://testserver/datasets/{i}" for i in ids)
    assert f"http://testserver/datasets/{draft}" not in seen and f"http://testserver/datasets/{archived}" not in seen
    g = Graph().parse(data=client.get(f"/catalog.{ext}?per_page=2&page=3").content, format=PARSE[ext])
    view = next(g.subjects(RDF.type, dcat.HYDRA.PartialCollectionView))
    assert str(g.value(view, dcat.HYDRA.first)).endswith(f"/catalog.{ext}?page=1&per_page=2")
    assert str(g.value(view, dcat.HYDRA.last)).endswith(f"/catalog.{ext}?page=3&per_page=2")
    assert g.value(view, dcat.HYDRA.next) is None
    assert int(g.value(URIRef("http://testserver/catalog"), dcat.HYDRA.totalItems)) == 5


def test_catalogue_bad_pages(client):
    _create(client, _docs(1)[0])
    assert client.get("/catalog.ttl?page=2").status_code == 404
    assert client.get("/catalog.ttl?page=0").status_code == 422
    assert client.get("/catalog.ttl?per_page=5000").status_code == 422
    empty = client.get("/catalog.jsonld")
    assert empty.status_code == 200
    r = client.get("/catalog", headers={"Accept": "application/ld+json"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/catalog.jsonld")


def test_dataset_rdf_by_content_negotiation_and_suffix(client):
    doc = _docs(1)[0]
    dsid = _create(client, doc)
    iri = URIRef(f"http://testserver/datasets/{dsid}")
    html = client.get(f"/datasets/{dsid}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert html.headers["content-type"].startswith("text/html") and "Accept" in html.headers["vary"]
    for accept, ext in (("text/turtle", "ttl"), ("application/ld+json", "jsonld"),
                        ("application/rdf+xml;q=0.9, text/html;q=0.5", "rdf")):
        r = client.get(f"/datasets/{dsid}", headers={"Accept": accept})
        assert r.status_code == 200 and r.headers["content-type"].startswith(dcat_routes.MEDIA[ext]), accept
        g = Graph().parse(data=r.content, format=PARSE[ext])
        assert (iri, RDF.type, DCAT.Dataset) in g
        by_suffix = client.get(f"/datasets/{dsid}.{ext}")
        assert by_suffix.status_code == 200 and by_suffix.content == r.content
    (read,) = list(dcat_read.read_graph(Graph().parse(data=client.get(f"/datasets/{dsid}.ttl").content)))
    assert read.document["summary"]["title"] == doc["summary"]["title"]
    assert read.document["coverage"]["typicalAgeRangeMax"] == 98
    assert shacl.validate(Graph().parse(data=client.get(f"/datasets/{dsid}.ttl").content)).conforms
    assert client.get(f"/datasets/{dsid}.ttl?version=9").status_code == 404


def test_dataset_rdf_only_for_public_datasets(client):
    draft = _create(client, _docs(1)[0], publish=False)
    assert client.get(f"/datasets/{draft}.ttl").status_code == 404
    assert client.get(f"/datasets/{draft}", headers={"Accept": "text/turtle"}).status_code == 404
    archived = _create(client, _docs(1)[0])
    client.post(f"/api/v1/datasets/{archived}/archive", headers=client.admin)
    assert client.get(f"/datasets/{archived}.jsonld").status_code == 410
    assert client.get("/datasets/not-a-uuid.ttl").status_code == 404


@pytest.mark.parametrize("accept, expected", [
    (None, None), ("*/*", None), ("text/turtle", "ttl"), ("text/html, text/turtle", None),
    ("text/turtle;q=0.9, text/html;q=0.8", "ttl"), ("application/ld+json", "jsonld"),
    ("application/json", None), ("text/turtle;q=0", None), ("application/rdf+xml;q=bad", None),
])
def test_preferred_format(accept, expected):
    assert dcat_routes.preferred_format(accept) == expected


@pytest.mark.parametrize("fmt", ["dcat-ttl", "dcat-jsonld"])
def test_cli_export_streams_the_whole_catalogue(client, db, tmp_path, monkeypatch, fmt):
    ids = [_create(client, d) for d in _docs(3)]
    from healthgate import cli
    from healthgate.federation import dcat_catalog

    real = dcat_catalog.stream
    monkeypatch.setattr(dcat_catalog, "stream", lambda session, chunk=500: real(session, chunk=2))  # several chunks
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HEALTHGATE_BASE_URL", "https://gateway.example.org")
    out = tmp_path / "out" / f"catalog.{fmt}"
    result = CliRunner().invoke(cli.app, ["export", "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 3 datasets" in result.output
    g = Graph().parse(data=out.read_bytes(), format="turtle" if fmt == "dcat-ttl" else "json-ld")
    assert sorted(str(d) for d in g.subjects(RDF.type, DCAT.Dataset)) == sorted(
        f"https://gateway.example.org/datasets/{i}" for i in ids)
    assert len(set(g.objects(URIRef("https://gateway.example.org/catalog"), DCAT.dataset))) == 3
    report = shacl.validate(g)
    assert report.conforms and not report.violations, report.text()
