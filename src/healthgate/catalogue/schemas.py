"""Shapes of the catalogue's JSON API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from healthgate.catalogue.models import Dataset, DatasetVersion


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class DatasetSummary(Out):
    id: uuid.UUID
    version: int
    title: str
    abstract: str | None
    custodian: str | None
    keywords: list[str]
    population_size: int | None
    start_date: date | None
    end_date: date | None
    quality_score: float
    medallion: str
    schema_valid: bool
    published_at: datetime

    @classmethod
    def of(cls, v: DatasetVersion) -> DatasetSummary:
        return cls(
            id=v.dataset_id, version=v.number, title=v.title, abstract=v.abstract, custodian=v.custodian,
            keywords=v.keywords, population_size=v.population_size, start_date=v.start_date, end_date=v.end_date,
            quality_score=v.quality_score, medallion=v.medallion, schema_valid=v.schema_valid,
            published_at=v.published_at,
        )


class DatasetPage(Out):
    total: int
    page: int
    per_page: int
    items: list[DatasetSummary]


class VersionOut(DatasetSummary):
    status: str
    team: str
    member_group: str | None
    source_schema_version: str
    published_by: str
    schema_errors: list[dict[str, str]]
    quality: dict[str, Any]
    metadata: dict[str, Any]

    @classmethod
    def full(cls, v: DatasetVersion, dataset: Dataset, quality: dict[str, Any]) -> VersionOut:
        return cls(
            **DatasetSummary.of(v).model_dump(), status=dataset.status.value, team=dataset.team.name,
            member_group=dataset.team.member_group, source_schema_version=v.source_schema_version,
            published_by=v.published_by, schema_errors=v.schema_errors, quality=quality, metadata=v.document,
        )


class VersionListItem(Out):
    version: int
    published_at: datetime
    published_by: str
    title: str
    quality_score: float
    medallion: str
    source_schema_version: str


class DraftOut(Out):
    id: uuid.UUID
    status: str
    team: str
    row_version: int
    latest_version: int
    validation: dict[str, Any]


class ValidationOut(Out):
    valid: bool
    schema_version: str
    errors: list[dict[str, str]]
    quality: dict[str, Any]
