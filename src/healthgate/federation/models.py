"""Harvest sources (custodians' own catalogues the gateway keeps current with), harvest jobs and what each
job saw of each remote item.

A source belongs to a custodian team: what it harvests is published as that team's datasets, through the
catalogue service (``catalogue.service.import_versions``), never written here. ``harvest_records`` remembers,
per source and remote id, which dataset it became and the hash of the content last harvested, so an
unchanged item costs no write, and which items a complete listing no longer shows (archived).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.db import Base


class HarvestSource(Base):
    __tablename__ = "harvest_sources"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)  # publishes as this team
    name: Mapped[str] = mapped_column(String(200), unique=True)  # also the CLI's handle: healthgate harvest NAME
    kind: Mapped[str] = mapped_column(String(20))  # federation.adapters: hdruk-fma | dcat | ckan | gwdm
    url: Mapped[str] = mapped_column(Text)  # the base URL (FMA, CKAN, GWDM) or the catalogue document (DCAT)
    # auth: none | api-key | bearer | oauth2 ; settings: header name, client id, token URL, scope, page size,
    # query, extra allowed hosts for redirects, rate limit per second ... (adapter-specific, documented)
    auth: Mapped[str] = mapped_column(String(20), default="none")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[str | None] = mapped_column(Text)  # API key, bearer token or client secret; never shown back
    schedule_minutes: Mapped[int | None] = mapped_column(Integer)  # None: on demand only
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class HarvestJob(Base):
    """One run of a source: queued -> running -> succeeded | failed. A running job's heartbeat is renewed as
    it works; a job whose heartbeat is older than the timeout is marked failed by the next claimer."""

    __tablename__ = "harvest_jobs"
    __table_args__ = (Index("ix_harvest_jobs_state_queued", "state", "queued_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("harvest_sources.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20))  # queued | running | succeeded | failed
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual | schedule | cli
    requested_by: Mapped[str] = mapped_column(String(300), default="")
    queued_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    # counts: listed, created, updated, unchanged, archived, failed, requests ...
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    listing_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)  # why the whole job failed (None when it did not)


class HarvestJobItem(Base):
    """What happened to one remote item in one job: only errors and changes are kept (not "unchanged")."""

    __tablename__ = "harvest_job_items"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("harvest_jobs.id", ondelete="CASCADE"), index=True)
    remote_id: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20))  # created | updated | archived | failed | refused
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"))
    message: Mapped[str | None] = mapped_column(Text)  # for failed / refused: what was wrong, with the path


class HarvestRecord(Base):
    """A remote item of a source and the dataset it became."""

    __tablename__ = "harvest_records"
    __table_args__ = (UniqueConstraint("source_id", "remote_id", name="uq_harvest_records_remote"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("harvest_sources.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(Text)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the remote content as received
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_changed_at: Mapped[datetime]
    gone_at: Mapped[datetime | None]  # when a complete listing stopped showing it (the dataset was archived)
