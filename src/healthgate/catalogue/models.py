"""Datasets and their immutable published versions."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from healthgate.db import Base, JSONDoc
from healthgate.identity.models import Team


class DatasetStatus(enum.StrEnum):
    DRAFT = "draft"  # never published; private to its team
    ACTIVE = "active"  # has a published version, publicly visible
    ARCHIVED = "archived"  # withdrawn from public view; history kept


class Dataset(Base):
    """A dataset's persistent identity. Its metadata lives in versions; the draft is the next one."""

    __tablename__ = "datasets"
    __table_args__ = (Index("ix_datasets_status_updated", "status", "updated_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)
    status: Mapped[DatasetStatus] = mapped_column(
        Enum(DatasetStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    # The working copy: the submitted document and its canonical (HDR UK 4.0.0) form.
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    draft_schema_version: Mapped[str | None] = mapped_column(String(20))
    draft_updated_at: Mapped[datetime | None]
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    team: Mapped[Team] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012

    @property
    def has_draft(self) -> bool:
        return self.draft is not None


class DatasetVersion(Base):
    """One published version: the document exactly as published, plus fields extracted for search/facets."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    number: Mapped[int]
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(300))
    # As submitted (any supported schema version) and its canonical HDR UK 4.0.0 form.
    source_schema_version: Mapped[str] = mapped_column(String(20))
    source_document: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)  # null when already 4.0.0
    document: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    schema_valid: Mapped[bool]
    schema_errors: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    quality_score: Mapped[float] = mapped_column(Float)
    medallion: Mapped[str] = mapped_column(String(20))
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Extracted for listing, search and facets.
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    custodian: Mapped[str | None] = mapped_column(Text)
    population_size: Mapped[int | None] = mapped_column(BigInteger)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    facets: Mapped[dict[str, Any]] = mapped_column(JSON)

    dataset: Mapped[Dataset] = relationship()


