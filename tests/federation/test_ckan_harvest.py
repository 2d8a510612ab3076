"""CKAN sources through the real harvest job runner (guarded fetch, change detection, archiving), against a
CKAN action API served on 127.0.0.1. On both databases."""

from __future__ import annotations

import pytest

from healthgate.audit.models import AuditEvent
from healthgate.catalogue.models import DatasetVersion
from healthgate.federation.models import HarvestRecord
from tests.federation.fake_catalogues import serve
from tests.federation.harvest_world import add_source, build, catalogue_state, count, harvest, report
from tests.federation.test_ckan_source import ckan_site, packages


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def test_a_ckan_site_is_harvested_rerun_writes_nothing_changes_version_and_gone_archive(db, world):
    catalogue = packages(5)
    with serve(ckan_site(catalogue)) as site:
        sid = add_source(db, world, site.base, name="wessex-ckan", kind="ckan", settings={"rows": 2})
        job = harvest(db, world, sid)
        assert (job.state, job.listing_complete, job.error) == ("succeeded", True, None)
        assert {k: job.counts[k] for k in ("listed", "created", "unchanged", "failed")} == \
            {"listed": 5, "created": 5, "unchanged": 0, "failed": 0}
        assert catalogue_state(db, world.teams["A"]) == {f"Package {i}": ("active", 1) for i in range(5)}
        with db.sessions() as s:
            version = s.query(DatasetVersion).filter(DatasetVersion.title == "Package 0").one()
            assert version.keywords == ["stroke", "audit"] and version.population_size == 48210
            assert version.document["summary"]["dataCustodian"]["name"] == "Wessex Stroke Network"

        versions, records, events = count(db, DatasetVersion), count(db, HarvestRecord), count(db, AuditEvent)
        again = harvest(db, world, sid)
        assert (again.state, again.counts["unchanged"], again.counts["created"], again.counts["updated"]) == \
            ("succeeded", 5, 0, 0)
        assert (count(db, DatasetVersion), count(db, HarvestRecord)) == (versions, records)
        assert count(db, AuditEvent) == events + 2  # the job's own queued/finished events only
        assert report(db, again.id) == {}

        catalogue[1]["title"] = "Package 1, revised"
        catalogue[1]["metadata_modified"] = "2025-01-01T00:00:00"
        gone = catalogue.pop(4)
        third = harvest(db, world, sid)
        assert (third.counts["updated"], third.counts["archived"], third.counts["unchanged"]) == (1, 1, 3)
        state = catalogue_state(db, world.teams["A"])
        assert state["Package 1, revised"] == ("active", 2) and state["Package 4"] == ("archived", 1)
        assert report(db, third.id)[gone["id"]][0] == "archived"


def test_a_failing_page_loses_and_archives_nothing(db, world):
    catalogue = packages(6)
    with serve(ckan_site(catalogue)) as site:
        sid = add_source(db, world, site.base, name="wessex-ckan", kind="ckan", settings={"rows": 2})
        assert harvest(db, world, sid).counts["created"] == 6
    with serve(ckan_site(catalogue, fail_start=2)) as site:
        with db.sessions.begin() as s:
            from healthgate.federation.models import HarvestSource
            s.get(HarvestSource, sid).url = site.base
        job = harvest(db, world, sid)
    assert job.listing_complete is False and job.counts["archived"] == 0
    assert job.counts["unchanged"] == 2
    assert catalogue_state(db, world.teams["A"]) == {f"Package {i}": ("active", 1) for i in range(6)}
