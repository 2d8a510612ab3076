"""End to end through the real job runner: instance A (healthgate served on 127.0.0.1) publishes datasets; B
harvests A's DCAT-AP catalogue (Hydra pages) as a `dcat` source. B's copies keep every HealthDCAT-AP field;
an unchanged re-harvest writes nothing; a change in A becomes a new version in B; a failing run against A
leaves B's data as it was. On both databases for B."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from rdflib import Graph, URIRef
from sqlalchemy import select

from healthgate import migrate
from healthgate.catalogue.importer import ImportItem, import_items
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.identity.permissions import SYSTEM
from healthgate.interop import dcat
from tests.conftest import load_fixture
from tests.federation.harvest_world import add_source, build, catalogue_state, count, harvest, report
from tests.interop.test_dcat import _health_fields
from tests.web.live import serve


def _docs(n: int) -> list[dict]:
    base = load_fixture("hdruk-4.0.0-full.json")
    base["observations"].append({"observedNode": "Events", "measuredValue": 4321, "observationDate": "2024-06-30",
                                 "measuredProperty": "Count"})
    out = []
    for i in range(n):
        d = json.loads(json.dumps(base))
        d["identifier"] = str(uuid.UUID(int=i + 1, version=4))
        d["summary"]["title"] = f"Heart cohort {i}"
        d["summary"]["populationSize"] = 900 + i
        d["coverage"]["typicalAgeRangeMax"] = 80 + i
        out.append(d)
    return out


class InstanceA:
    def __init__(self, tmp_path, clock):
        self.url = f"sqlite:///{tmp_path}/a.db"
        self.engine = make_engine(self.url)
        migrate.upgrade(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        self.clock = clock
        self.tmp = tmp_path

    def publish(self, docs: list[dict]) -> None:
        with transaction(self.sessions) as s:
            r = import_items(Context(s, SYSTEM, self.clock), [ImportItem(f"a{i}", d) for i, d in enumerate(docs)],
                             team="Wessex Heart")
            assert not r.failed, r.errors

    def settings(self) -> Settings:
        return Settings(data_dir=self.tmp / "a-data", database_url=self.url)


@pytest.fixture
def a(tmp_path, clock):
    inst = InstanceA(tmp_path, clock)
    yield inst
    inst.engine.dispose()


def test_b_harvests_a_through_dcat_with_the_job_runner(db, clock, a):
    docs = _docs(5)
    a.publish(docs)
    world = build(db.sessions, clock)
    with serve(a.settings()) as a_url:
        sid = add_source(db, world, f"{a_url}/catalog.ttl?per_page=2", kind="dcat", name="wessex-dcat")
        job = harvest(db, world, sid)
        assert (job.state, job.listing_complete, job.error) == ("succeeded", True, None), job.error
        assert (job.counts["listed"], job.counts["created"], job.counts["failed"]) == (5, 5, 0), job.counts
        a_fields = {}
        for i in range(5):
            iri = f"{a_url}/datasets/{docs[i]['identifier']}"
            g = Graph().parse(data=httpx.get(iri, headers={"Accept": "text/turtle"}).content,
                              format="turtle")
            a_fields[f"Heart cohort {i}"] = _health_fields(g, URIRef(iri))

        # B's own DCAT-AP export of what it harvested keeps every HealthDCAT-AP field of A's
        site_b = dcat.Site("http://b.test")
        with db.sessions() as s:
            rows = s.execute(select(Dataset.id, DatasetVersion.document).join(
                DatasetVersion, (DatasetVersion.dataset_id == Dataset.id)
                & (DatasetVersion.number == Dataset.latest_version))
                .where(Dataset.team_id == world.teams["A"])).all()
        assert len(rows) == 5
        for dataset_id, doc in rows:
            fields = _health_fields(dcat.dataset_graph(doc, site_b, dataset_id), site_b.dataset_iri(dataset_id))
            assert all(fields.values()) and fields == a_fields[doc["summary"]["title"]], doc["summary"]["title"]

        # nothing changed: nothing written
        versions = count(db, DatasetVersion)
        again = harvest(db, world, sid)
        assert (again.state, again.counts["unchanged"], again.counts["created"]) == ("succeeded", 5, 0)
        assert count(db, DatasetVersion) == versions and report(db, again.id) == {}

        # a change in A is a new version in B
        changed = json.loads(json.dumps(docs[2]))
        changed["summary"]["populationSize"] = 12345
        changed["summary"]["title"] = "Heart cohort 2 (extended)"
        a.publish([changed])
        third = harvest(db, world, sid)
        assert (third.state, third.counts["updated"], third.counts["unchanged"]) == ("succeeded", 1, 4)
        state = catalogue_state(db, world.teams["A"])
        assert state["Heart cohort 2 (extended)"] == ("active", 2)
        with db.sessions() as s:
            doc = s.scalar(select(DatasetVersion.document).where(DatasetVersion.title == "Heart cohort 2 (extended)"))
        assert doc["summary"]["populationSize"] == 12345

    before = catalogue_state(db, world.teams["A"])
    failed = harvest(db, world, sid)  # A is gone: the run fails, B keeps everything
    assert failed.state == "failed" and not failed.listing_complete
    assert failed.error and "page 1" in failed.error
    assert catalogue_state(db, world.teams["A"]) == before
    assert all(status == "active" for status, _ in before.values())
