"""What a harvest job does: list the source's items through its adapter, skip those whose content hash has
not changed (no writes at all), check the others and publish them through the catalogue's one write path
(``catalogue.service.import_versions``, a batch at a time), record per item what happened, and -- only after a
complete, successful listing -- archive the datasets whose items are gone.

A job never fails for one item: an item that cannot be read or is refused is recorded (``harvest_job_items``)
and the run goes on. Each batch is its own transaction, so what was harvested stays harvested if a later
part of the run fails; a run that fails (the listing breaks off, the source cannot be reached, the worker
dies) archives nothing. Writes act as the system, named after the source in the audit log.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import httpx
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from healthgate.audit import service as audit
from healthgate.catalogue import service as catalogue
from healthgate.catalogue.metadata import Checked, check, check_size, require_title
from healthgate.catalogue.models import Dataset, DatasetStatus
from healthgate.catalogue.service import ImportRecord, ImportResult, Outcome
from healthgate.clock import Clock
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, HealthgateError
from healthgate.federation import adapters, service
from healthgate.federation.adapters import Item, ListingIncomplete, SourceConfig
from healthgate.federation.fetch import GuardedFetch
from healthgate.federation.models import HarvestJob, HarvestJobItem, HarvestRecord, HarvestSource
from healthgate.identity.models import Team

log = logging.getLogger(__name__)

BATCH = 250  # items checked and written per transaction
NAMESPACE = uuid.UUID("7b0d6a52-3c4e-5b7f-9a61-2f0c8e4d1a93")  # dataset ids of harvested items (uuid5)
MAX_MESSAGE = 2000
_RECORDS = cast(Table, HarvestRecord.__table__)
_ITEMS = cast(Table, HarvestJobItem.__table__)


def dataset_id_for(source_id: uuid.UUID, remote_id: str) -> uuid.UUID:
    """The stable dataset id of a source's remote item: the same on every run and every machine."""
    return uuid.uuid5(NAMESPACE, f"{source_id}/{remote_id}")


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass
class _Known:
    dataset_id: uuid.UUID
    content_hash: str
    gone: bool


@dataclass
class Run:
    """One run in progress: what it knows and what it has counted."""

    job_id: uuid.UUID
    source_id: uuid.UUID
    source_name: str
    team_name: str
    accept_invalid: bool
    max_document_bytes: int | None
    known: dict[str, _Known]
    counts: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(
        ("listed", "created", "updated", "unchanged", "archived", "failed", "refused"), 0))
    seen: set[str] = field(default_factory=set)
    pending: list[Item] = field(default_factory=list)
    last_beat: datetime | None = None


class Stopped(Exception):
    """The job is no longer running (it was marked failed as dead while this run went on)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


def run_next(sessions: sessionmaker[Session], clock: Clock, *, worker: str | None = None,
             transport: httpx.BaseTransport | None = None, max_document_bytes: int | None = None) -> HarvestJob | None:
    """Claim the oldest queued job and run it; None when there was none."""
    with sessions.begin() as s:
        job = service.claim(s, clock, worker or worker_name())
        job_id = job.id if job is not None else None
    if job_id is None:
        return None
    return run(sessions, clock, job_id, transport=transport, max_document_bytes=max_document_bytes)


def run_now(sessions: sessionmaker[Session], clock: Clock, job_id: uuid.UUID, *, worker: str | None = None,
            progress: Callable[[dict[str, Any]], None] | None = None,
            transport: httpx.BaseTransport | None = None, max_document_bytes: int | None = None) -> HarvestJob:
    """Claim this queued job and run it here (the CLI's ``healthgate harvest``)."""
    with sessions.begin() as s:
        job = service.claim(s, clock, worker or worker_name(), job_id=job_id)
        if job is None:
            found = s.get(HarvestJob, job_id)
            raise Conflict(f"the job is {found.state if found else 'gone'}; another worker has it or it ended")
    return run(sessions, clock, job_id, progress=progress, transport=transport,
               max_document_bytes=max_document_bytes)


def run(sessions: sessionmaker[Session], clock: Clock, job_id: uuid.UUID, *,
        progress: Callable[[dict[str, Any]], None] | None = None,
        transport: httpx.BaseTransport | None = None, max_document_bytes: int | None = None) -> HarvestJob:
    """Run a claimed (running) job to its end and return it, finished."""
    with sessions() as s:
        job = s.get(HarvestJob, job_id)
        if job is None or job.state != service.RUNNING:
            raise Conflict("the job is not running")
        source = s.get(HarvestSource, job.source_id)
        assert source is not None
        team = s.get(Team, source.team_id)
        assert team is not None
        config = SourceConfig(source.kind, source.url, dict(source.settings or {}))
        auth, secret = source.auth, source.secret
        state = Run(job_id, source.id, source.name, team.name,
                    accept_invalid=bool((source.settings or {}).get("accept_invalid", True)),
                    max_document_bytes=max_document_bytes,
                    known={r.remote_id: _Known(r.dataset_id, r.content_hash, r.gone_at is not None)
                           for r in s.execute(select(HarvestRecord.remote_id, HarvestRecord.dataset_id,
                                                     HarvestRecord.content_hash, HarvestRecord.gone_at)
                                              .where(HarvestRecord.source_id == source.id))},
                    last_beat=clock.now())
    error: str | None = None
    complete = False
    fetch: GuardedFetch | None = None
    try:
        fetch = GuardedFetch(config, auth=auth, secret=secret, transport=transport)
        adapter = adapters.adapter(config.kind)
        try:
            for item in adapter.items(config, fetch):
                _take(sessions, clock, state, item)
                if progress:
                    progress(state.counts)
            complete = True
        except ListingIncomplete as exc:
            error = f"the listing is incomplete: {exc}"
        _flush(sessions, clock, state)
        state.counts["requests"], state.counts["waited_seconds"] = fetch.requests, round(fetch.waited, 1)
        if complete:
            _archive_gone(sessions, clock, state)
    except Stopped:
        log.warning("harvest job %s was marked failed while it ran; stopped", job_id)
        return _reload(sessions, job_id)
    except Exception as exc:
        log.exception("harvest job %s failed", job_id)
        error = f"the run stopped: {type(exc).__name__}: {exc}"[:MAX_MESSAGE]
        complete = False
        if fetch is not None:
            state.counts["requests"], state.counts["waited_seconds"] = fetch.requests, round(fetch.waited, 1)
    finally:
        if fetch is not None:
            fetch.close()
    if progress:
        progress(state.counts)
    return _finish(sessions, clock, state, complete=complete, error=error)


def _reload(sessions: sessionmaker[Session], job_id: uuid.UUID) -> HarvestJob:
    with sessions() as s:
        job = s.get(HarvestJob, job_id)
        assert job is not None
        s.expunge(job)
        return job


def _take(sessions: sessionmaker[Session], clock: Clock, state: Run, item: Item) -> None:
    """One listed item: unchanged ones are counted and dropped here; the rest wait for the next batch."""
    if item.remote_id in state.seen:
        return
    state.seen.add(item.remote_id)
    state.counts["listed"] += 1
    if item.error is None:
        known = state.known.get(item.remote_id)
        if known is not None and not known.gone and known.content_hash == content_hash(item.content):
            state.counts["unchanged"] += 1
            _maybe_beat(sessions, clock, state)
            return
    state.pending.append(item)
    if len(state.pending) >= BATCH:
        _flush(sessions, clock, state)
    else:
        _maybe_beat(sessions, clock, state)


def _maybe_beat(sessions: sessionmaker[Session], clock: Clock, state: Run) -> None:
    now = clock.now()
    if state.last_beat is None or now - state.last_beat >= service.HEARTBEAT_EVERY:
        with sessions.begin() as s:
            if not service.heartbeat(s, state.job_id, now, state.counts):
                raise Stopped()
        state.last_beat = now


def _message(errors: list[FieldError]) -> str:
    text = "; ".join(f"{e.path}: {e.message}" if e.path and e.path != "$" else e.message for e in errors[:5])
    if len(errors) > 5:
        text += f"; and {len(errors) - 5} more"
    return text[:MAX_MESSAGE]


def _check(state: Run, item: Item) -> Checked | str:
    """The item's document, checked as the catalogue checks any import; or why it cannot be harvested."""
    if item.error is not None:
        return item.error[:MAX_MESSAGE]
    if item.document is None:
        return "the source gave no document for this item"
    try:
        check_size(item.document, limit=state.max_document_bytes, size=len(item.content) or None)
        checked = check(item.document)
        require_title(checked)
    except HealthgateError as exc:
        return _message(exc.errors) if exc.errors else exc.detail
    except Exception as exc:  # noqa: BLE001 -- a document the checks cannot read is that item's failure
        return f"cannot read this document: {type(exc).__name__}: {exc}"[:MAX_MESSAGE]
    if checked.errors and not state.accept_invalid:
        return "the document does not follow its schema: " + _message(checked.errors)
    return checked


def _flush(sessions: sessionmaker[Session], clock: Clock, state: Run) -> None:
    """Check and write the pending items in one transaction: the catalogue's import, the harvest records,
    the per-item report and the job's counts and heartbeat."""
    items, state.pending = state.pending, []
    checked = [(item, _check(state, item)) for item in items]
    now = clock.now()
    report: list[dict[str, Any]] = []
    with sessions.begin() as s:
        source = s.get(HarvestSource, state.source_id)
        if source is None:
            raise Stopped()
        ctx = Context(s, service.harvest_actor(source), clock)
        records: list[tuple[Item, ImportRecord]] = []
        for item, result in checked:
            if isinstance(result, str):
                state.counts["failed"] += 1
                report.append(_row(state, item.remote_id, "failed", None, result))
                continue
            known = state.known.get(item.remote_id)
            dataset_id = known.dataset_id if known else dataset_id_for(state.source_id, item.remote_id)
            if known is not None and known.gone:
                _restore(ctx, dataset_id)
            records.append((item, ImportRecord(f"harvest source {state.source_name}: {item.remote_id}",
                                               dataset_id, result, state.team_name)))
        results = _import(ctx, [r for _, r in records]) if records else []
        fresh: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for (item, record), res in zip(records, results, strict=True):
            outcome = res.outcome
            if outcome == Outcome.REFUSED:
                state.counts["refused"] += 1
                report.append(_row(state, item.remote_id, "refused", record.dataset_id, _message(res.errors)))
                continue
            digest = content_hash(item.content)
            known = state.known.get(item.remote_id)
            if known is None:
                fresh.append({"id": uuid.uuid4(), "source_id": state.source_id, "remote_id": item.remote_id,
                              "dataset_id": record.dataset_id, "content_hash": digest, "first_seen_at": now,
                              "last_seen_at": now, "last_changed_at": now, "gone_at": None})
            else:
                changed.append({"key": item.remote_id, "hash": digest})
            state.known[item.remote_id] = _Known(record.dataset_id, digest, False)
            if outcome == Outcome.UNCHANGED:
                state.counts["unchanged"] += 1
            else:
                name = "created" if outcome == Outcome.CREATED else "updated"
                state.counts[name] += 1
                note = f"version {res.version}" + (" (back in the source: unarchived)"
                                                   if known is not None and known.gone else "")
                report.append(_row(state, item.remote_id, name, record.dataset_id, note))
        conn = s.connection()
        if fresh:
            conn.execute(insert(_RECORDS), fresh)
        if changed:
            t = _RECORDS.c
            conn.execute(update(_RECORDS).where(t.source_id == state.source_id, t.remote_id == bindparam("key"))
                         .values(content_hash=bindparam("hash"), last_seen_at=now, last_changed_at=now,
                                 gone_at=None), changed)
        if report:
            conn.execute(insert(_ITEMS), report)
        if not service.heartbeat(s, state.job_id, now, state.counts):
            raise Stopped()
    state.last_beat = now


def _row(state: Run, remote_id: str, outcome: str, dataset_id: uuid.UUID | None, message: str | None) -> dict[str, Any]:
    return {"job_id": state.job_id, "remote_id": remote_id[:2000], "outcome": outcome, "dataset_id": dataset_id,
            "message": message[:MAX_MESSAGE] if message else None}


def _restore(ctx: Context, dataset_id: uuid.UUID) -> None:
    """An item a complete listing had lost is back: bring its dataset back before the new version."""
    status = ctx.session.scalar(select(Dataset.status).where(Dataset.id == dataset_id))
    if status == DatasetStatus.ARCHIVED:
        catalogue.unarchive(ctx, dataset_id)


def _import(ctx: Context, records: list[ImportRecord]) -> list[ImportResult]:
    """The catalogue's import in a savepoint; if the database refuses the batch, each record alone, so one
    bad record fails alone."""
    if len(records) > 1:
        try:
            with ctx.session.begin_nested():
                return catalogue.import_versions(ctx, records)
        except DBAPIError:
            pass
    results: list[ImportResult] = []
    for r in records:
        try:
            with ctx.session.begin_nested():
                results.extend(catalogue.import_versions(ctx, [r]))
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0][:200] if exc.orig is not None else type(exc).__name__
            results.append(ImportResult(r, Outcome.REFUSED, errors=[
                FieldError("$", f"the database refused this record: {reason}")]))
    return results


def _archive_gone(sessions: sessionmaker[Session], clock: Clock, state: Run) -> None:
    """After a complete listing: archive the datasets of items the source no longer lists."""
    gone = [(rid, k) for rid, k in state.known.items() if rid not in state.seen and not k.gone]
    if not gone:
        return
    now = clock.now()
    with sessions.begin() as s:
        source = s.get(HarvestSource, state.source_id)
        if source is None:
            raise Stopped()
        ctx = Context(s, service.harvest_actor(source), clock)
        report = []
        statuses = dict(s.execute(select(Dataset.id, Dataset.status)
                                  .where(Dataset.id.in_([k.dataset_id for _, k in gone]))).all())
        for remote_id, known in gone:
            if statuses.get(known.dataset_id) not in (None, DatasetStatus.ARCHIVED):
                catalogue.archive(ctx, known.dataset_id)
            state.counts["archived"] += 1
            known.gone = True
            report.append(_row(state, remote_id, "archived", known.dataset_id,
                               "no longer listed by the source: dataset archived"))
        t = _RECORDS.c
        s.execute(update(_RECORDS).where(t.source_id == state.source_id, t.remote_id.in_([r for r, _ in gone]))
                  .values(gone_at=now).execution_options(synchronize_session=False))
        s.connection().execute(insert(_ITEMS), report)
        if not service.heartbeat(s, state.job_id, now, state.counts):
            raise Stopped()


def _finish(sessions: sessionmaker[Session], clock: Clock, state: Run, *, complete: bool,
            error: str | None) -> HarvestJob:
    now = clock.now()
    with sessions.begin() as s:
        job = s.scalar(select(HarvestJob).where(HarvestJob.id == state.job_id).with_for_update())
        assert job is not None
        if job.state == service.RUNNING:
            job.state = service.SUCCEEDED if error is None else service.FAILED
            job.finished_at, job.heartbeat_at = now, now
            job.counts, job.listing_complete, job.error = dict(state.counts), complete, error
            source = s.get(HarvestSource, job.source_id)
            if source is not None:
                ctx = Context(s, service.harvest_actor(source), clock)
                audit.record(ctx, "harvest_job.finished", "harvest_source", source.id,
                             {"job": str(job.id), "outcome": job.state, "listing_complete": complete,
                              "counts": dict(state.counts), "error": error})
        s.flush()
        s.expunge(job)
        return job


# ---- the worker's schedule -----------------------------------------------------------------------------


def periodic(sessions: sessionmaker[Session], clock: Clock) -> str | None:
    """The worker's harvest tick: queue due scheduled sources, mark dead jobs failed, run one queued job."""
    with sessions.begin() as s:
        queued = service.enqueue_due(s, clock)
        reaped = service.reap(s, clock)
    from healthgate.config import Settings

    job = run_next(sessions, clock, max_document_bytes=Settings().max_document_bytes)
    done = [f"{queued} queued"] if queued else []
    if reaped:
        done.append(f"{reaped} dead job(s) marked failed")
    if job is not None:
        done.append(f"job {job.id} {job.state}: {job.counts}")
    return "; ".join(done) or None


def _periodic_job() -> Any:
    from healthgate.outbox.periodic import Job

    return Job("harvest", every=30.0, run=periodic)


PERIODIC = [_periodic_job()]
