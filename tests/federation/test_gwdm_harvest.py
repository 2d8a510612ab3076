"""GWDM sources (another gateway's dataset API) through the real harvest job runner, against a gateway served on
127.0.0.1. On both databases."""

from __future__ import annotations

import pytest

from healthgate.audit.models import AuditEvent
from healthgate.catalogue.models import DatasetVersion
from healthgate.federation.models import HarvestRecord
from tests.federation.fake_catalogues import serve
from tests.federation.harvest_world import add_source, build, catalogue_state, count, harvest, report
from tests.federation.test_gwdm_source import gateway, gateway_datasets


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def test_a_gateway_is_harvested_rerun_writes_nothing_changes_version_and_gone_archive(db, world):
    ds = gateway_datasets(5)
    with serve(gateway(ds)) as site:
        sid = add_source(db, world, site.base + "/api/v2", name="hdruk-gateway", kind="gwdm",
                         settings={"page_size": 2, "accept_invalid": False})
        job = harvest(db, world, sid)
        assert (job.state, job.listing_complete, job.error) == ("succeeded", True, None)
        assert {k: job.counts[k] for k in ("listed", "created", "failed")} == {"listed": 5, "created": 5, "failed": 0}
        assert catalogue_state(db, world.teams["A"]) == {f"Gateway dataset {i}": ("active", 1) for i in range(5)}
        with db.sessions() as s:
            v = s.query(DatasetVersion).filter(DatasetVersion.title == "Gateway dataset 0").one()
            assert v.schema_valid and v.population_size == 254000 and v.custodian == "NWL ICB"

        versions, records, events = count(db, DatasetVersion), count(db, HarvestRecord), count(db, AuditEvent)
        again = harvest(db, world, sid)
        assert (again.counts["unchanged"], again.counts["created"], again.counts["updated"]) == (5, 0, 0)
        assert (count(db, DatasetVersion), count(db, HarvestRecord)) == (versions, records)
        assert count(db, AuditEvent) == events + 2
        assert report(db, again.id) == {}

        ds[2]["gwdm"]["summary"]["title"] = "Gateway dataset 2, revised"
        gone = ds.pop(0)
        third = harvest(db, world, sid)
        assert (third.counts["updated"], third.counts["archived"], third.counts["unchanged"]) == (1, 1, 3)
        state = catalogue_state(db, world.teams["A"])
        assert state["Gateway dataset 2, revised"] == ("active", 2) and state["Gateway dataset 0"] == ("archived", 1)
        assert report(db, third.id)[gone["pid"]][0] == "archived"


def test_failing_details_are_reported_per_item_and_archive_nothing(db, world):
    ds = gateway_datasets(3)
    with serve(gateway(ds)) as site:
        sid = add_source(db, world, site.base + "/api/v2", name="hdruk-gateway", kind="gwdm")
        assert harvest(db, world, sid).counts["created"] == 3
    with serve(gateway(ds, list_metadata=False, detail_fails=True)) as site:
        with db.sessions.begin() as s:
            from healthgate.federation.models import HarvestSource
            s.get(HarvestSource, sid).url = site.base + "/api/v2"
        job = harvest(db, world, sid)
    assert job.counts["failed"] == 3 and job.counts["archived"] == 0
    assert all(outcome == "failed" and "HTTP 500" in message for outcome, message in report(db, job.id).values())
    assert catalogue_state(db, world.teams["A"]) == {f"Gateway dataset {i}": ("active", 1) for i in range(3)}
