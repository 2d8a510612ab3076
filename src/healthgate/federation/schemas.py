"""Request and response models of the harvest API. A source's secret is write-only: accepted on create and
update, never answered (``has_secret`` says whether one is stored)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from healthgate.catalogue.schemas import PageLinks
from healthgate.federation.models import HarvestJob, HarvestJobItem, HarvestSource

Kind = Literal["hdruk-fma", "dcat", "ckan", "gwdm"]  # federation.adapters.KINDS
Auth = Literal["none", "api-key", "bearer", "oauth2"]  # federation.fetch.AUTHS
SETTINGS_HELP = ("source settings: page_size, query, max_items, concurrency (FMA); allowed_hosts (extra hosts a "
                 "redirect may go to); api_key_header; token_url, client_id, scope, token_auth (OAuth2); timeout, "
                 "max_bytes, retries, max_wait, rate_per_second (fetching); accept_invalid (publish documents that "
                 "break their schema, default true). See docs/federation-harvest.md")


class In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceIn(In):
    team: str = Field(min_length=1, max_length=300, description="the custodian team's id, slug or name")
    name: str = Field(min_length=1, max_length=200, description="unique; also the CLI's handle")
    kind: Kind = "hdruk-fma"
    url: str = Field(min_length=1, max_length=2000, description="the source's base URL (FMA, CKAN, GWDM) or "
                                                                 "catalogue URL (DCAT)")
    auth: Auth = "none"
    secret: str | None = Field(None, max_length=4000, description="API key, bearer token or OAuth2 client "
                                                                   "secret (write-only)")
    settings: dict[str, Any] = Field(default_factory=dict, description=SETTINGS_HELP)
    schedule_minutes: int | None = Field(None, ge=5, le=129_600, description="harvest every N minutes (the "
                                                                             "worker); null: on demand only")
    enabled: bool = True


class SourcePatch(In):
    name: str | None = Field(None, min_length=1, max_length=200)
    url: str | None = Field(None, min_length=1, max_length=2000)
    auth: Auth | None = None
    secret: str | None = Field(None, max_length=4000, description="a new secret; \"\" removes it; absent keeps it")
    settings: dict[str, Any] | None = Field(None, description="replaces the settings. " + SETTINGS_HELP)
    schedule_minutes: int | None = Field(None, ge=0, le=129_600, description="0: on demand only")
    enabled: bool | None = None


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class JobOut(Out):
    id: uuid.UUID
    source_id: uuid.UUID
    state: Literal["queued", "running", "succeeded", "failed"]
    trigger: str
    queued_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    listing_complete: bool = Field(description="true when the whole listing was read (only then is anything "
                                               "archived)")
    counts: dict[str, float] = Field(description="listed, created, updated, unchanged, archived, failed, refused, "
                                                 "requests, waited_seconds")
    error: str | None = Field(description="why the job failed, when it did")

    @classmethod
    def of(cls, job: HarvestJob) -> JobOut:
        counts = {k: v for k, v in (job.counts or {}).items() if isinstance(v, int | float)}
        return cls(id=job.id, source_id=job.source_id, state=job.state, trigger=job.trigger,  # type: ignore[arg-type]
                   queued_at=job.queued_at, started_at=job.started_at, heartbeat_at=job.heartbeat_at,
                   finished_at=job.finished_at, listing_complete=job.listing_complete, counts=counts,
                   error=job.error)


class SourceOut(Out):
    id: uuid.UUID
    team_id: uuid.UUID
    team: str
    name: str
    kind: str
    url: str
    auth: str
    has_secret: bool
    settings: dict[str, Any]
    schedule_minutes: int | None
    enabled: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    row_version: int
    last_job: JobOut | None = None

    @classmethod
    def of(cls, s: HarvestSource, team: str, last_job: HarvestJob | None = None) -> SourceOut:
        return cls(id=s.id, team_id=s.team_id, team=team, name=s.name, kind=s.kind, url=s.url, auth=s.auth,
                   has_secret=bool(s.secret), settings=dict(s.settings or {}), schedule_minutes=s.schedule_minutes,
                   enabled=s.enabled, next_run_at=s.next_run_at, created_at=s.created_at, updated_at=s.updated_at,
                   row_version=s.row_version, last_job=JobOut.of(last_job) if last_job else None)


class JobPage(PageLinks):
    total: int
    page: int
    per_page: int
    items: list[JobOut]


class JobItemOut(Out):
    remote_id: str
    outcome: Literal["created", "updated", "archived", "failed", "refused"]
    dataset_id: uuid.UUID | None
    message: str | None

    @classmethod
    def of(cls, i: HarvestJobItem) -> JobItemOut:
        return cls(remote_id=i.remote_id, outcome=i.outcome, dataset_id=i.dataset_id,  # type: ignore[arg-type]
                   message=i.message)


class JobReport(PageLinks):
    job: JobOut
    source: str = Field(description="the source's name")
    total: int = Field(description="report rows (errors and changes; unchanged items are only counted)")
    page: int
    per_page: int
    items: list[JobItemOut]
