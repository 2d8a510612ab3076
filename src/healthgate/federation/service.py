"""Harvest sources and jobs: the only code that writes them. Pages, the API, the CLI and the worker call these.

A source belongs to a custodian team; ``harvest:manage`` on that team (team admins, metadata managers)
manages it, alliance admins manage any. A job is queued (by hand or by the schedule), claimed by one worker
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), renews its heartbeat while it runs, and ends succeeded or failed;
a running job whose heartbeat is older than ``JOB_TIMEOUT`` is marked failed by ``reap``. The run itself
(what a job does to the catalogue) is ``federation.jobs``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from healthgate.audit import service as audit
from healthgate.clock import Clock
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from healthgate.federation import adapters
from healthgate.federation.fetch import AUTHS, origin
from healthgate.federation.models import HarvestJob, HarvestJobItem, HarvestRecord, HarvestSource
from healthgate.identity.models import Team
from healthgate.identity.permissions import SYSTEM, Actor, Permission, require

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED)
OUTCOMES = ("created", "updated", "archived", "failed", "refused")
TRIGGERS = ("manual", "schedule", "cli")
JOB_TIMEOUT = timedelta(minutes=15)  # a running job without a heartbeat for this long is dead
HEARTBEAT_EVERY = timedelta(seconds=10)  # how often a running job renews its heartbeat (at most)
MIN_SCHEDULE_MINUTES = 5
MAX_SCHEDULE_MINUTES = 60 * 24 * 90
MAX_SETTINGS_BYTES = 16_384
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()'&/-]{0,199}$")

# Settings every kind understands (the fetch policy and auth details), with their types; adapters document
# their own (``page_size``, ``query`` ...). Unknown keys are kept for the adapter.
KNOWN_SETTINGS: dict[str, tuple[type, ...]] = {
    "allowed_hosts": (list,), "api_key_header": (str,), "token_url": (str,), "client_id": (str,),
    "scope": (str,), "token_auth": (str,), "timeout": (int, float), "max_bytes": (int,), "retries": (int,),
    "max_wait": (int, float), "rate_per_second": (int, float), "accept_invalid": (bool,), "page_size": (int,),
    "query": (str,), "max_items": (int,), "concurrency": (int,),
}


def harvest_actor(source: HarvestSource) -> Actor:
    """The system actor, named after the source: harvest writes are audited as ``harvest source NAME``."""
    return Actor(name=f"harvest source {source.name}"[:300], is_admin=True)


# ---- validation ----------------------------------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_url(url: str, path: str, errors: list[FieldError]) -> None:
    if _CONTROL.search(url) or " " in url:
        errors.append(FieldError(path, "a URL has no spaces or control characters"))
        return
    try:
        parts = urlsplit(url)
        origin(url)  # the port is a number in range
    except ValueError as exc:
        errors.append(FieldError(path, f"not a URL: {exc}"))
        return
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append(FieldError(path, "an http or https URL with a host name"))
    elif parts.username or parts.password:
        errors.append(FieldError(path, "no user name or password in the URL: use the source's auth and secret"))
    elif len(url) > 2000:
        errors.append(FieldError(path, "at most 2000 characters"))


def _origin_ok(url: str) -> bool:
    try:
        origin(url)
    except ValueError:
        return False
    return True


def _typed(value: Any, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def _check_settings(settings: Any, errors: list[FieldError]) -> dict[str, Any]:
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        errors.append(FieldError("settings", "an object of settings"))
        return {}
    clean: dict[str, Any] = dict(settings)
    try:
        size = len(json.dumps(clean))
    except (TypeError, ValueError):
        errors.append(FieldError("settings", "plain JSON values only"))
        return {}
    if "\\u0000" in json.dumps(clean):
        errors.append(FieldError("settings", "no NUL characters"))
    if size > MAX_SETTINGS_BYTES:
        errors.append(FieldError("settings", f"at most {MAX_SETTINGS_BYTES} bytes of settings"))
    for key, raw in clean.items():
        value: Any = raw
        types = KNOWN_SETTINGS.get(key)
        if value is None or types is None:
            continue
        if not _typed(value, types):
            errors.append(FieldError(f"settings.{key}", f"must be {' or '.join(t.__name__ for t in types)}"))
        elif key == "allowed_hosts":
            for i, host in enumerate(value):
                if not isinstance(host, str) or not re.fullmatch(r"(https?://)?[A-Za-z0-9.-]+(:\d{1,5})?/?", host) \
                        or not _origin_ok(host if "://" in host else f"http://{host}"):
                    errors.append(FieldError(f"settings.allowed_hosts[{i}]", "a host name, or scheme://host:port"))
        elif key == "token_url":
            _check_url(value, "settings.token_url", errors)
        elif key == "token_auth" and value not in ("basic", "body"):
            errors.append(FieldError("settings.token_auth", "basic or body"))
        elif key == "api_key_header" and not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}", value):
            errors.append(FieldError("settings.api_key_header", "an HTTP header name"))
    return {k: v for k, v in clean.items() if v is not None}


def _validate(kind: str, url: str, auth: str, secret: str | None, settings: dict[str, Any],
              schedule_minutes: int | None, errors: list[FieldError]) -> None:
    if kind not in adapters.KINDS:
        errors.append(FieldError("kind", f"one of: {', '.join(adapters.KINDS)}"))
    _check_url(url, "url", errors)
    if auth not in AUTHS:
        errors.append(FieldError("auth", f"one of: {', '.join(AUTHS)}"))
    elif secret and _CONTROL.search(secret):
        errors.append(FieldError("secret", "no control characters (it is sent in an HTTP header)"))
    elif auth != "none" and not secret:
        what = {"api-key": "the API key", "bearer": "the bearer token", "oauth2": "the client secret"}[auth]
        errors.append(FieldError("secret", f"{what} is needed for auth {auth}"))
    if auth == "oauth2":
        for key in ("token_url", "client_id"):
            if not settings.get(key):
                errors.append(FieldError(f"settings.{key}", "needed for OAuth2 client credentials"))
    if schedule_minutes is not None and not MIN_SCHEDULE_MINUTES <= schedule_minutes <= MAX_SCHEDULE_MINUTES:
        errors.append(FieldError("schedule_minutes",
                                 f"between {MIN_SCHEDULE_MINUTES} and {MAX_SCHEDULE_MINUTES} minutes, or empty"))


def _check_name(session: Session, name: str, errors: list[FieldError], own: uuid.UUID | None = None) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        errors.append(FieldError("name", "1-200 characters: letters, digits, spaces and . _ ( ) ' & / -, "
                                         "starting with a letter or digit"))
        return name
    other = session.scalar(select(HarvestSource.id).where(func.lower(HarvestSource.name) == name.lower()))
    if other is not None and other != own:
        errors.append(FieldError("name", f"a source named {name!r} exists already"))
    return name


# ---- sources -------------------------------------------------------------------------------------------


def create_source(ctx: Context, team_id: uuid.UUID, *, name: str, kind: str, url: str, auth: str = "none",
                  secret: str | None = None, settings: Mapping[str, Any] | None = None,
                  schedule_minutes: int | None = None, enabled: bool = True) -> HarvestSource:
    require(ctx.actor, Permission.HARVEST_MANAGE, on=team_id)
    team = ctx.session.get(Team, team_id)
    if team is None:
        raise NotFound(f"no team {team_id}")
    errors: list[FieldError] = []
    clean = _check_settings(settings, errors)
    name = _check_name(ctx.session, name, errors)
    url = (url or "").strip()
    secret = secret.strip() if secret else None
    _validate(kind, url, auth, secret, clean, schedule_minutes, errors)
    if errors:
        raise Invalid("the harvest source is not valid", errors)
    now = ctx.now()
    source = HarvestSource(team_id=team.id, name=name, kind=kind, url=url, auth=auth, settings=clean,
                           secret=secret if auth != "none" else None, schedule_minutes=schedule_minutes,
                           enabled=enabled, next_run_at=now if schedule_minutes else None, created_at=now,
                           updated_at=now, row_version=1)
    ctx.session.add(source)
    ctx.session.flush()
    audit.record(ctx, "harvest_source.created", "harvest_source", source.id, _audit_view(source, team))
    return source


def _audit_view(source: HarvestSource, team: Team | None = None) -> dict[str, Any]:
    return {"name": source.name, "kind": source.kind, "url": source.url, "auth": source.auth,
            "team": team.name if team is not None else str(source.team_id), "enabled": source.enabled,
            "schedule_minutes": source.schedule_minutes, "settings": sorted(source.settings or {})}


_UNSET: Any = object()


def update_source(ctx: Context, source_id: uuid.UUID, *, expected_row_version: int | None = None,
                  name: str = _UNSET, url: str = _UNSET, auth: str = _UNSET, secret: str | None = _UNSET,
                  settings: Mapping[str, Any] = _UNSET, schedule_minutes: int | None = _UNSET,
                  enabled: bool = _UNSET) -> HarvestSource:
    """Change what is given; ``secret`` unset keeps the stored one (it is never shown back), None or ""
    removes it. The kind and the team of a source never change (delete it and add another)."""
    source = _load(ctx.session, source_id, for_update=True)
    _require_or_hide(ctx, source)
    if expected_row_version is not None and expected_row_version != source.row_version:
        raise Conflict("the source changed since you read it",
                       [FieldError("row_version", f"expected {expected_row_version}, the source is at "
                                                  f"{source.row_version}")])
    errors: list[FieldError] = []
    new_name = _check_name(ctx.session, name, errors, own=source.id) if name is not _UNSET else source.name
    new_url = (url or "").strip() if url is not _UNSET else source.url
    new_auth = auth if auth is not _UNSET else source.auth
    new_secret = (secret or "").strip() or None if secret is not _UNSET else source.secret
    new_settings = _check_settings(settings, errors) if settings is not _UNSET else dict(source.settings or {})
    new_schedule = schedule_minutes if schedule_minutes is not _UNSET else source.schedule_minutes
    _validate(source.kind, new_url, new_auth, new_secret, new_settings, new_schedule, errors)
    if errors:
        raise Invalid("the harvest source is not valid", errors)
    changed = sorted(k for k, old, new in (
        ("name", source.name, new_name), ("url", source.url, new_url), ("auth", source.auth, new_auth),
        ("settings", source.settings, new_settings), ("schedule_minutes", source.schedule_minutes, new_schedule),
        ("enabled", source.enabled, source.enabled if enabled is _UNSET else enabled),
    ) if old != new)
    secret_changed = new_secret != source.secret
    if not changed and not secret_changed:
        return source
    now = ctx.now()
    if new_schedule != source.schedule_minutes:
        source.next_run_at = now if new_schedule else None
    source.name, source.url, source.auth, source.settings = new_name, new_url, new_auth, new_settings
    source.secret = new_secret if new_auth != "none" else None
    source.schedule_minutes = new_schedule
    if enabled is not _UNSET:
        source.enabled = enabled
    source.updated_at = now
    source.row_version += 1
    ctx.session.flush()
    audit.record(ctx, "harvest_source.updated", "harvest_source", source.id,
                 {"name": source.name, "changed": changed + (["credentials"] if secret_changed else [])})
    return source


def delete_source(ctx: Context, source_id: uuid.UUID) -> None:
    """Remove a source, its jobs and its records. The datasets it harvested stay, as the team's."""
    source = _load(ctx.session, source_id, for_update=True)
    _require_or_hide(ctx, source)
    if ctx.session.scalar(select(HarvestJob.id).where(HarvestJob.source_id == source.id,
                                                      HarvestJob.state == RUNNING).limit(1)):
        raise Conflict("the source is being harvested; delete it when the job has ended")
    audit.record(ctx, "harvest_source.deleted", "harvest_source", source.id, _audit_view(source))
    ctx.session.delete(source)
    ctx.session.flush()


def _load(session: Session, source_id: uuid.UUID, *, for_update: bool = False) -> HarvestSource:
    stmt = select(HarvestSource).where(HarvestSource.id == source_id)
    if for_update:
        stmt = stmt.with_for_update()
    source = session.scalar(stmt)
    if source is None:
        raise NotFound(f"no harvest source {source_id}")
    return source


def get_source(ctx: Context, source_id: uuid.UUID) -> HarvestSource:
    source = _load(ctx.session, source_id)
    _require_or_hide(ctx, source)
    return source


def _require_or_hide(ctx: Context, source: HarvestSource) -> None:
    """Someone who may not manage the source learns nothing about it (404), once signed in."""
    try:
        require(ctx.actor, Permission.HARVEST_MANAGE, on=source)
    except Forbidden:
        raise NotFound(f"no harvest source {source.id}") from None


def find_source(ctx: Context, ref: str) -> HarvestSource:
    """A source by id or by name (case-insensitive)."""
    try:
        return get_source(ctx, uuid.UUID(ref))
    except ValueError:
        pass
    source = ctx.session.scalar(select(HarvestSource).where(func.lower(HarvestSource.name) == ref.strip().lower()))
    if source is None:
        raise NotFound(f"no harvest source named {ref!r}")
    _require_or_hide(ctx, source)
    return source


def list_sources(ctx: Context, team_id: uuid.UUID | None = None) -> list[HarvestSource]:
    """A team's sources (``harvest:manage`` on it), or with no team every source the actor may manage
    (all of them for an alliance admin)."""
    stmt = select(HarvestSource).order_by(func.lower(HarvestSource.name))
    if team_id is not None:
        require(ctx.actor, Permission.HARVEST_MANAGE, on=team_id)
        return list(ctx.session.scalars(stmt.where(HarvestSource.team_id == team_id)))
    if not ctx.actor.authenticated:
        require(ctx.actor, Permission.HARVEST_MANAGE)
    if ctx.actor.can(Permission.HARVEST_MANAGE):
        return list(ctx.session.scalars(stmt))
    teams = [t for t in ctx.actor.team_ids if ctx.actor.can(Permission.HARVEST_MANAGE, t)]
    return list(ctx.session.scalars(stmt.where(HarvestSource.team_id.in_(teams)))) if teams else []


def team_names(session: Session, sources: list[HarvestSource]) -> dict[uuid.UUID, str]:
    ids = {s.team_id for s in sources}
    return dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all()) if ids else {}


@dataclass(frozen=True)
class SourceSummary:
    source: HarvestSource
    team_name: str
    last_job: HarvestJob | None
    records: int


def summaries(ctx: Context, team_id: uuid.UUID | None = None) -> list[SourceSummary]:
    """Sources with their team's name, latest job and how many remote items they track."""
    found = list_sources(ctx, team_id)
    if not found:
        return []
    ids = [s.id for s in found]
    names = team_names(ctx.session, found)
    latest_q = (select(HarvestJob.source_id, func.max(HarvestJob.queued_at).label("at"))
                .where(HarvestJob.source_id.in_(ids)).group_by(HarvestJob.source_id).subquery())
    latest = {j.source_id: j for j in ctx.session.scalars(
        select(HarvestJob).join(latest_q, (HarvestJob.source_id == latest_q.c.source_id)
                                & (HarvestJob.queued_at == latest_q.c.at)))}
    counts = dict(ctx.session.execute(
        select(HarvestRecord.source_id, func.count()).where(HarvestRecord.source_id.in_(ids),
                                                            HarvestRecord.gone_at.is_(None))
        .group_by(HarvestRecord.source_id)).all())
    return [SourceSummary(s, names.get(s.team_id, ""), latest.get(s.id), counts.get(s.id, 0)) for s in found]


# ---- jobs ----------------------------------------------------------------------------------------------


def enqueue(ctx: Context, source_id: uuid.UUID, *, trigger: str = "manual") -> HarvestJob:
    """Queue a run of the source, or return the one already queued or running (a source runs one job at a
    time)."""
    source = _load(ctx.session, source_id, for_update=True)
    _require_or_hide(ctx, source)
    if trigger not in TRIGGERS:
        raise Invalid("unknown trigger", [FieldError("trigger", f"one of {', '.join(TRIGGERS)}")])
    pending = ctx.session.scalar(select(HarvestJob).where(HarvestJob.source_id == source.id,
                                                          HarvestJob.state.in_((QUEUED, RUNNING)))
                                 .order_by(HarvestJob.queued_at).limit(1))
    if pending is not None:
        return pending
    now = ctx.now()
    job = HarvestJob(source_id=source.id, state=QUEUED, trigger=trigger, requested_by=ctx.actor.name[:300],
                     queued_at=now, counts={}, listing_complete=False)
    ctx.session.add(job)
    ctx.session.flush()
    audit.record(ctx, "harvest_job.queued", "harvest_source", source.id,
                 {"job": str(job.id), "source": source.name, "trigger": trigger})
    return job


def claim(session: Session, clock: Clock, worker: str, *, job_id: uuid.UUID | None = None) -> HarvestJob | None:
    """Take the oldest queued job (or ``job_id``) for ``worker``: it becomes running with a fresh heartbeat.
    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never take the same job; the guarded UPDATE makes
    it safe on SQLite too. Jobs of a source that already has a running job wait."""
    busy = select(HarvestJob.source_id).where(HarvestJob.state == RUNNING).scalar_subquery()
    stmt = (select(HarvestJob).where(HarvestJob.state == QUEUED, HarvestJob.source_id.not_in(busy))
            .order_by(HarvestJob.queued_at).limit(1).with_for_update(skip_locked=True))
    if job_id is not None:
        stmt = stmt.where(HarvestJob.id == job_id)
    job = session.scalar(stmt)
    if job is None:
        return None
    now = clock.now()
    taken = session.execute(
        update(HarvestJob).where(HarvestJob.id == job.id, HarvestJob.state == QUEUED)
        .values(state=RUNNING, started_at=now, heartbeat_at=now, worker=worker[:200])
        .execution_options(synchronize_session=False))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(job)
    return job


def heartbeat(session: Session, job_id: uuid.UUID, now: datetime, counts: dict[str, Any] | None = None) -> bool:
    """Renew a running job's heartbeat (and its counts so far); False when the job is no longer running (it
    was reaped as dead): the run must stop."""
    values: dict[str, Any] = {"heartbeat_at": now}
    if counts is not None:
        values["counts"] = dict(counts)
    result = session.execute(update(HarvestJob).where(HarvestJob.id == job_id, HarvestJob.state == RUNNING)
                             .values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def reap(session: Session, clock: Clock, *, timeout: timedelta = JOB_TIMEOUT) -> int:
    """Mark failed every running job whose heartbeat is older than ``timeout``: its worker died."""
    now = clock.now()
    dead = list(session.scalars(select(HarvestJob).where(HarvestJob.state == RUNNING,
                                                         HarvestJob.heartbeat_at < now - timeout)
                                .with_for_update(skip_locked=True)))
    for job in dead:
        job.state, job.finished_at = FAILED, now
        job.error = (f"no heartbeat since {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (the worker "
                     f"{job.worker or ''} stopped); marked failed after {int(timeout.total_seconds())} s")
        source = session.get(HarvestSource, job.source_id)
        ctx = Context(session, harvest_actor(source) if source else SYSTEM, clock)
        audit.record(ctx, "harvest_job.failed", "harvest_source", job.source_id,
                     {"job": str(job.id), "reason": "no heartbeat", "worker": job.worker or ""})
    session.flush()
    return len(dead)


def enqueue_due(session: Session, clock: Clock) -> int:
    """Queue a job for every enabled, scheduled source whose time has come, and set its next time."""
    now = clock.now()
    due = list(session.scalars(select(HarvestSource).where(
        HarvestSource.enabled.is_(True), HarvestSource.schedule_minutes.is_not(None),
        (HarvestSource.next_run_at.is_(None)) | (HarvestSource.next_run_at <= now),
    ).with_for_update(skip_locked=True)))
    for source in due:
        enqueue(Context(session, harvest_actor(source), clock), source.id, trigger="schedule")
        source.next_run_at = now + timedelta(minutes=source.schedule_minutes or MIN_SCHEDULE_MINUTES)
    session.flush()
    return len(due)


def jobs(ctx: Context, source_id: uuid.UUID, *, limit: int = 50, offset: int = 0) -> list[HarvestJob]:
    get_source(ctx, source_id)
    return list(ctx.session.scalars(select(HarvestJob).where(HarvestJob.source_id == source_id)
                                    .order_by(HarvestJob.queued_at.desc()).limit(limit).offset(offset)))


def count_jobs(ctx: Context, source_id: uuid.UUID) -> int:
    get_source(ctx, source_id)
    return ctx.session.scalar(select(func.count()).select_from(HarvestJob)
                              .where(HarvestJob.source_id == source_id)) or 0


def get_job(ctx: Context, job_id: uuid.UUID) -> tuple[HarvestJob, HarvestSource]:
    job = ctx.session.get(HarvestJob, job_id)
    if job is None:
        raise NotFound(f"no harvest job {job_id}")
    source = _load(ctx.session, job.source_id)
    try:
        _require_or_hide(ctx, source)
    except Forbidden:
        raise NotFound(f"no harvest job {job_id}") from None
    return job, source


def job_items(ctx: Context, job_id: uuid.UUID, *, outcome: str | None = None, limit: int = 100,
              offset: int = 0) -> tuple[list[HarvestJobItem], int]:
    """A job's per-item report (errors and changes, in the order they happened) and how many there are."""
    get_job(ctx, job_id)
    where = [HarvestJobItem.job_id == job_id]
    if outcome:
        where.append(HarvestJobItem.outcome == outcome)
    total = ctx.session.scalar(select(func.count()).select_from(HarvestJobItem).where(*where)) or 0
    rows = list(ctx.session.scalars(select(HarvestJobItem).where(*where).order_by(HarvestJobItem.id)
                                    .limit(limit).offset(offset)))
    return rows, total
