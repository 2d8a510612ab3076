"""Harvest jobs against a real HDR UK federated metadata catalogue API on 127.0.0.1: create, skip unchanged
with no writes, new versions for changes, archive what a complete listing lost, and for every way a source
misbehaves a clear per-item report with nothing harvested before lost or archived. On both databases."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from healthgate.audit.models import AuditEvent
from healthgate.catalogue.models import DatasetVersion
from healthgate.errors import Conflict
from healthgate.federation import jobs, service
from healthgate.federation.models import HarvestJob, HarvestRecord
from tests.federation.fakes import Answer, FakeServer, FmaSource, document, redirect
from tests.federation.harvest_world import add_source, build, catalogue_state, count, harvest, report


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


@pytest.fixture
def src():
    with FmaSource() as s:
        for i in range(1, 6):
            s.add(f"ds-{i}", document(f"Dataset {i}"))
        yield s


def test_first_run_creates_rerun_writes_nothing_change_is_a_version_gone_is_archived(db, world, src):
    sid = add_source(db, world, src.url, settings={"page_size": 2})
    job = harvest(db, world, sid)
    assert (job.state, job.listing_complete, job.error) == ("succeeded", True, None)
    assert {k: job.counts[k] for k in ("listed", "created", "unchanged", "failed")} == \
        {"listed": 5, "created": 5, "unchanged": 0, "failed": 0}
    assert catalogue_state(db, world.teams["A"]) == {f"Dataset {i}": ("active", 1) for i in range(1, 6)}
    assert set(report(db, job.id).values()) == {("created", "version 1")}

    # unchanged: no version, no record, no audit event, no report row -- only the job's own bookkeeping
    versions, events, records = count(db, DatasetVersion), count(db, AuditEvent), count(db, HarvestRecord)
    again = harvest(db, world, sid)
    assert (again.state, again.counts["unchanged"], again.counts["created"]) == ("succeeded", 5, 0)
    assert (count(db, DatasetVersion), count(db, HarvestRecord)) == (versions, records)
    assert count(db, AuditEvent) == events + 2  # harvest_job.queued and harvest_job.finished
    assert report(db, again.id) == {}

    src.add("ds-2", document("Dataset 2 renamed"))
    del src.datasets["ds-5"]
    third = harvest(db, world, sid)
    assert (third.counts["updated"], third.counts["archived"], third.counts["unchanged"]) == (1, 1, 3)
    state = catalogue_state(db, world.teams["A"])
    assert state["Dataset 2 renamed"] == ("active", 2)
    assert state["Dataset 5"] == ("archived", 1)
    assert report(db, third.id) == {"ds-2": ("updated", "version 2"),
                                    "ds-5": ("archived", "no longer listed by the source: dataset archived")}

    src.add("ds-5", document("Dataset 5 is back"))  # back in the source: unarchived, a new version
    fourth = harvest(db, world, sid)
    assert catalogue_state(db, world.teams["A"])["Dataset 5 is back"] == ("active", 2)
    assert "unarchived" in report(db, fourth.id)["ds-5"][1]


def test_harvest_writes_are_audited_naming_the_source_and_published_as_the_team(db, world, src):
    sid = add_source(db, world, src.url, name="Alpha catalogue")
    harvest(db, world, sid)
    with db.sessions() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "dataset.imported")).all()
        published_by = set(s.scalars(select(DatasetVersion.published_by)))
        finished = s.scalars(select(AuditEvent).where(AuditEvent.action == "harvest_job.finished")).one()
    assert len(events) == 5
    assert {e.actor for e in events} == {"harvest source Alpha catalogue"}
    assert {e.data["source"] for e in events} == {f"harvest source Alpha catalogue: ds-{i}" for i in range(1, 6)}
    assert published_by == {"Alpha Health Data"}
    assert finished.data["outcome"] == "succeeded" and finished.data["counts"]["created"] == 5


def test_a_failing_listing_loses_and_archives_nothing(db, world, src):
    sid = add_source(db, world, src.url)
    harvest(db, world, sid)
    before = catalogue_state(db, world.teams["A"])
    src.script("/datasets", Answer(500, "oops"))
    job = harvest(db, world, sid)
    assert job.state == "failed" and not job.listing_complete
    assert "offset 0 answered HTTP 500" in (job.error or "")
    assert catalogue_state(db, world.teams["A"]) == before

    src.script("/datasets", Answer(200, "{not json"))
    job = harvest(db, world, sid)
    assert job.state == "failed" and "not JSON" in (job.error or "")
    assert catalogue_state(db, world.teams["A"]) == before


def test_one_bad_item_never_fails_the_job(db, world, src):
    sid = add_source(db, world, src.url)
    harvest(db, world, sid)
    src.add("ds-1", document("Dataset 1 v2"))
    src.add("ds-3", document("Dataset 3 v2"))
    src.script("/datasets/ds-1", Answer(500, "detail route broken"))
    src.encoded["ds-3"] = b'{"summary": {"title": '  # invalid JSON
    src.add("ds-6", document("Dataset 6"))
    huge = document("Dataset 7", abstract="x" * (10 * 1024 * 1024))
    src.add("ds-7", huge)
    src.add("ds-8", {"hello": "not a metadata document"})
    job = harvest(db, world, sid)
    assert job.state == "succeeded" and job.listing_complete
    items = report(db, job.id)
    assert items["ds-1"][0] == "failed" and "HTTP 500" in items["ds-1"][1]
    assert items["ds-3"][0] == "failed" and "not JSON" in items["ds-3"][1]
    assert items["ds-6"] == ("created", "version 1")
    assert items["ds-7"][0] == "failed" and "bytes" in items["ds-7"][1]
    assert items["ds-8"][0] == "failed"
    state = catalogue_state(db, world.teams["A"])
    # the failed items keep what an earlier run harvested, and are not archived
    assert state["Dataset 1"] == ("active", 1) and state["Dataset 3"] == ("active", 1)
    assert job.counts["archived"] == 0 and job.counts["failed"] == 4
    # the next run tries them again (their hashes were not recorded)
    fixed = harvest(db, world, sid)
    assert report(db, fixed.id)["ds-1"] == ("updated", "version 2")


def test_a_list_without_its_wrapper_is_harvested(db, world, src):
    src.wrapper = False
    sid = add_source(db, world, src.url, settings={"page_size": 2})
    job = harvest(db, world, sid)
    assert (job.state, job.counts["created"]) == ("succeeded", 5)
    src.wrapper, src.items_key, src.total = True, "data", False
    src.add("ds-9", document("Dataset 9"))
    job = harvest(db, world, sid)
    assert (job.state, job.counts["created"], job.counts["unchanged"]) == ("succeeded", 1, 5)


def test_paging_for_ever_stops_and_archives_nothing(db, world, src):
    sid = add_source(db, world, src.url, settings={"page_size": 10, "max_items": 50})
    harvest(db, world, sid)
    src.endless = True
    job = harvest(db, world, sid)
    assert job.state == "failed" and "max_items" in (job.error or "")
    assert job.counts["archived"] == 0
    assert all(status == "active" for status, _ in catalogue_state(db, world.teams["A"]).values())
    src.endless, src.ignore_offset = False, True  # a source that ignores offset: the same page again
    with db.sessions.begin() as s:
        service.update_source(world.ctx(s, "manager_A"), sid, settings={"page_size": 2})
    job = harvest(db, world, sid)
    assert job.state == "failed" and "ignores offset" in (job.error or "")


def test_items_changing_between_pages_harvest_what_was_read_and_archive_nothing(db, world, src):
    sid = add_source(db, world, src.url, settings={"page_size": 2})
    harvest(db, world, sid)
    del src.datasets["ds-5"]

    def shift(offset: int) -> None:  # after the first page, a new dataset appears at the front
        if offset == 0 and "new-0" not in src.datasets:
            src.datasets = {"new-0": document("New first"), **src.datasets}

    src.on_page = shift
    job = harvest(db, world, sid)
    assert job.state == "failed" and not job.listing_complete
    assert "listed twice" in (job.error or "") or "total went from" in (job.error or "")
    state = catalogue_state(db, world.teams["A"])
    assert state["Dataset 5"] == ("active", 1)  # gone from the source, but this listing proves nothing
    src.on_page = None
    settled = harvest(db, world, sid)
    assert settled.state == "succeeded"
    assert catalogue_state(db, world.teams["A"])["Dataset 5"] == ("archived", 1)
    assert catalogue_state(db, world.teams["A"])["New first"] == ("active", 1)


def test_rate_limits_are_respected(db, world, src):
    sid = add_source(db, world, src.url)
    src.script("/datasets", Answer(429, {"message": "slow down"}, {"Retry-After": "1"}))
    src.script("/datasets/ds-2", Answer(429, "", {"RateLimit-Remaining": "0", "RateLimit-Reset": "1"}))
    job = harvest(db, world, sid)
    assert (job.state, job.counts["created"]) == ("succeeded", 5)
    assert job.counts["waited_seconds"] >= 2


def test_a_source_that_times_out_is_reported(db, world, src):
    sid = add_source(db, world, src.url, settings={"timeout": 1})
    src.script("/datasets/ds-4", Answer(200, document("late"), delay=2.5))
    job = harvest(db, world, sid)
    assert job.state == "succeeded"
    outcome, message = report(db, job.id)["ds-4"]
    assert outcome == "failed" and "timed out" in message
    src.script("/datasets", Answer(200, {"items": []}, delay=2.5))
    job = harvest(db, world, sid)
    assert job.state == "failed" and "timed out" in (job.error or "")


def test_redirects_to_another_host_are_refused_unless_allowed(db, world, src):
    with FakeServer("127.0.0.2") as other:
        other.route("/doc", lambda req: Answer(200, document("Elsewhere")))
        src.route("/datasets/ds-3", lambda req: redirect(f"{other.url}/doc"))
        sid = add_source(db, world, src.url)
        job = harvest(db, world, sid)
        outcome, message = report(db, job.id)["ds-3"]
        assert outcome == "failed" and "not the source's host" in message
        assert other.requests == []  # never contacted
        with db.sessions.begin() as s:
            service.update_source(world.ctx(s, "manager_A"), sid,
                                  settings={"retries": 0, "allowed_hosts": [other.url]})
        job = harvest(db, world, sid)
        assert report(db, job.id)["ds-3"] == ("created", "version 1")
        assert "Elsewhere" in catalogue_state(db, world.teams["A"])


def test_a_dead_job_is_marked_failed_and_its_run_stops(db, world, src, clock):
    sid = add_source(db, world, src.url)
    with db.sessions.begin() as s:
        job_id = service.enqueue(world.ctx(s, "manager_A"), sid).id
        assert service.enqueue(world.ctx(s, "manager_A"), sid).id == job_id  # one pending job per source
    with db.sessions.begin() as s:
        assert service.claim(s, clock, "w1").id == job_id
        assert service.claim(s, clock, "w2") is None
    clock.advance(seconds=service.JOB_TIMEOUT.total_seconds() - 1)
    with db.sessions.begin() as s:
        assert service.reap(s, clock) == 0
    clock.advance(seconds=2)
    with db.sessions.begin() as s:
        assert service.reap(s, clock) == 1
    with db.sessions() as s:
        job = s.get(HarvestJob, job_id)
        assert job.state == "failed" and "no heartbeat" in job.error
    with pytest.raises(Conflict, match="not running"):  # a reaped job cannot be run
        jobs.run(db.sessions, clock, job_id)


def test_the_worker_tick_queues_due_sources_and_runs_them(db, world, src, clock):
    sid = add_source(db, world, src.url, schedule_minutes=60)
    result = jobs.periodic(db.sessions, clock)
    assert "1 queued" in result and "succeeded" in result
    assert catalogue_state(db, world.teams["A"])["Dataset 1"] == ("active", 1)
    assert jobs.periodic(db.sessions, clock) is None  # not due again yet
    clock.advance(minutes=61)
    assert "1 queued" in jobs.periodic(db.sessions, clock)
    with db.sessions() as s:
        assert len(service.jobs(world.ctx(s, "manager_A"), sid)) == 2


def test_authenticated_sources(db, world, src):
    src.token = "Bearer sesame"
    sid = add_source(db, world, src.url, auth="bearer", secret="sesame")
    assert harvest(db, world, sid).counts["created"] == 5
    src.token = "k3y"
    with db.sessions.begin() as s:
        service.update_source(world.ctx(s, "manager_A"), sid, auth="api-key", secret="k3y")
    assert harvest(db, world, sid).state == "succeeded"
    with db.sessions.begin() as s:
        service.update_source(world.ctx(s, "manager_A"), sid, secret="wrong")
    job = harvest(db, world, sid)
    assert job.state == "failed" and "401" in (job.error or "")


def test_an_invalid_document_is_published_with_its_problems_or_refused_when_asked(db, world, src):
    doc = document("Has problems")
    doc["summary"]["populationSize"] = "many"
    src.add("bad", doc)
    sid = add_source(db, world, src.url)
    assert harvest(db, world, sid).counts["created"] == 6
    with db.sessions.begin() as s:
        service.update_source(world.ctx(s, "manager_A"), sid, settings={"accept_invalid": False})
    doc2 = json.loads(json.dumps(doc))
    doc2["summary"]["title"] = "Has problems v2"
    src.add("bad", doc2)
    job = harvest(db, world, sid)
    outcome, message = report(db, job.id)["bad"]
    assert outcome == "failed" and "populationSize" in message


def test_a_dataset_edited_locally_is_refused_not_overwritten(db, world, src):
    from healthgate.catalogue import service as catalogue

    sid = add_source(db, world, src.url)
    harvest(db, world, sid)
    with db.sessions.begin() as s:
        rec = s.scalars(select(HarvestRecord).where(HarvestRecord.remote_id == "ds-1")).one()
        catalogue.update_draft(world.ctx(s, "manager_A"), rec.dataset_id, document("Local edit"))
    src.add("ds-1", document("Remote edit"))
    job = harvest(db, world, sid)
    outcome, message = report(db, job.id)["ds-1"]
    assert outcome == "refused" and "draft" in message
