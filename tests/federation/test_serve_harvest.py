"""Two healthgate instances on 127.0.0.1: B harvests A through the federation API A serves (/federation), with
B's HDR UK federated metadata catalogue source. A change in A is a new version in B; a dataset A's custodian
archives is archived in B; a run that finds A down leaves B's data intact."""

from __future__ import annotations

import copy

import pytest

from healthgate.app import create_app
from healthgate.catalogue import service as catalogue
from healthgate.catalogue.models import DatasetVersion
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import service as identity
from healthgate.identity.permissions import SYSTEM
from tests.conftest import load_fixture
from tests.federation.harvest_world import add_source, build, catalogue_state, harvest
from tests.web.live import running


@pytest.fixture
def gateway_a(tmp_path, clock):
    """Instance A: its own database, three public datasets, one archived, one draft."""
    app = create_app(Settings(data_dir=tmp_path / "a", database_url=f"sqlite:///{tmp_path / 'a.db'}",
                              rate_limit_anonymous="off"), clock=clock)
    ids = {}
    doc = load_fixture("hdruk-4.0.0-full.json")
    with app.state.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        team = identity.get_or_create_team(ctx, "Wessex Heart", member_group="ALLIANCE")
        for name in ("alpha", "beta", "gamma", "delta"):
            d = copy.deepcopy(doc)
            d["identifier"] = None
            d["summary"]["title"] = f"Cohort {name}"
            ds, _ = catalogue.create_draft(ctx, team.id, d)
            catalogue.publish(ctx, ds.id)
            ids[name] = ds.id
        catalogue.archive(ctx, ids["delta"])
        catalogue.create_draft(ctx, team.id, {**doc, "identifier": None})
    app.ids = ids
    app.doc = doc
    yield app
    app.state.engine.dispose()


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def test_b_harvests_a_through_the_federation_api(db, world, gateway_a, clock):
    a = gateway_a
    with running(a) as url:
        sid = add_source(db, world, f"{url}/federation", name="gateway-a", settings={"page_size": 2})
        job = harvest(db, world, sid)
        assert (job.state, job.listing_complete, job.error) == ("succeeded", True, None)
        assert job.counts["created"] == 3 and job.counts["failed"] == 0
        assert catalogue_state(db, world.teams["A"]) == {f"Cohort {n}": ("active", 1)
                                                         for n in ("alpha", "beta", "gamma")}
        with db.sessions() as s:
            got = s.query(DatasetVersion).filter(DatasetVersion.title == "Cohort beta").one()
            assert got.document["identifier"] == str(a.ids["beta"])  # A's persistent id travels with it
            assert got.document["summary"]["dataCustodian"] == a.doc["summary"]["dataCustodian"]
            assert got.document["observations"] == a.doc["observations"] and got.schema_valid

        again = harvest(db, world, sid)
        assert (again.counts["unchanged"], again.counts["created"], again.counts["updated"]) == (3, 0, 0)

        clock.advance(hours=1)
        with a.state.sessions.begin() as s:
            ctx = Context(s, SYSTEM, clock)
            changed = copy.deepcopy(a.doc)
            changed["identifier"] = None
            changed["summary"]["title"] = "Cohort beta, extended"
            catalogue.update_draft(ctx, a.ids["beta"], changed)
            catalogue.publish(ctx, a.ids["beta"])
            catalogue.archive(ctx, a.ids["gamma"])
        third = harvest(db, world, sid)
        assert (third.counts["updated"], third.counts["archived"], third.counts["unchanged"]) == (1, 1, 1)
        state = catalogue_state(db, world.teams["A"])
        assert state["Cohort beta, extended"] == ("active", 2) and state["Cohort gamma"] == ("archived", 1)

    # A is gone: the run fails to list, and B keeps everything it had
    failed = harvest(db, world, sid)
    assert failed.listing_complete is False and failed.counts["archived"] == 0
    assert catalogue_state(db, world.teams["A"]) == state
