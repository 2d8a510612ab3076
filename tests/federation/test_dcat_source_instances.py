"""Two healthgate instances on 127.0.0.1: B reads A's served DCAT-AP catalogue over HTTP (Hydra pages) with the
DCAT source and publishes what it read; B's own DCAT-AP export of each dataset keeps every HealthDCAT-AP field
of A's."""

from __future__ import annotations

import json
import uuid

from rdflib import Graph, URIRef
from sqlalchemy import select

from healthgate import migrate
from healthgate.catalogue.importer import ImportItem, import_items
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.federation.adapters import SourceConfig, adapter
from healthgate.identity.permissions import SYSTEM
from healthgate.interop import dcat
from tests.conftest import load_fixture
from tests.federation.test_dcat_source import TinyFetch
from tests.interop.test_dcat import _health_fields
from tests.web.live import serve


def _docs(n: int) -> list[dict]:
    base = load_fixture("hdruk-4.0.0-full.json")
    base["observations"].append({"observedNode": "Events", "measuredValue": 777, "observationDate": "2024-06-30",
                                 "measuredProperty": "Count"})
    out = []
    for i in range(n):
        d = json.loads(json.dumps(base))
        d["identifier"] = str(uuid.uuid4())
        d["summary"]["title"] = f"Heart cohort {i}"
        d["summary"]["populationSize"] = 500 + i
        d["coverage"]["typicalAgeRangeMin"] = i
        out.append(d)
    return out


def test_b_harvests_a_through_dcat_and_keeps_every_healthdcat_field(db, clock, tmp_path):
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), [ImportItem(f"a{i}", d) for i, d in enumerate(_docs(5))],
                              team="Wessex Heart")
        assert report.created == 5, report.errors
    with serve(Settings(data_dir=tmp_path / "a", database_url=db.url)) as a:
        fetch = TinyFetch(a)
        items = list(adapter("dcat").items(SourceConfig("dcat", f"{a}/catalog.ttl?per_page=2"), fetch))
        assert len(items) == 5 and all(i.error is None for i in items)
        a_graphs = {i.remote_id: Graph().parse(data=fetch.get(i.remote_id, headers={"Accept": "text/turtle"}).content,
                                               format="turtle") for i in items}

    b_url = f"sqlite:///{tmp_path}/b.db"
    engine = make_engine(b_url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as s:
        report = import_items(Context(s, SYSTEM, clock), [ImportItem(i.remote_id, i.document) for i in items],
                              team="Mirror", accept_invalid=True)
        assert report.created == 5, report.errors
    b_site = dcat.Site("http://b.test")
    with sessions() as s:
        rows = s.execute(select(Dataset.id, DatasetVersion.document).join(
            DatasetVersion, DatasetVersion.dataset_id == Dataset.id)).all()
    engine.dispose()
    by_title = {}
    for dataset_id, doc in rows:
        g = dcat.dataset_graph(doc, b_site, dataset_id)
        by_title[doc["summary"]["title"]] = _health_fields(g, b_site.dataset_iri(dataset_id))
    assert len(by_title) == 5
    for iri, g in a_graphs.items():
        fields = _health_fields(g, URIRef(iri))
        title = str(g.value(URIRef(iri), dcat.DCTERMS.title))
        assert all(fields.values()), fields
        assert by_title[title] == fields, title
