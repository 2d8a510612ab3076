"""Shapes of the catalogue's JSON API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from healthgate.catalogue.models import Dataset, DatasetVersion


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProblemError(Out):
    path: str = Field(description="where: a JSON path ($.summary.title), query.NAME, header.NAME or a row")
    message: str


class Problem(Out):
    """RFC 9457 problem details, as every error of the API is sent (``application/problem+json``)."""

    type: str = Field(description="always about:blank: the status code says what kind of problem it is")
    title: str
    status: int
    detail: str
    errors: list[ProblemError] = Field(description="every problem found in the input, by place")


class FieldIssue(Out):
    path: str
    message: str


class QualityOut(Out):
    """Metadata quality: a score out of 100, its medallion, and (in reports) a per-field breakdown."""

    model_config = ConfigDict(frozen=True, extra="allow")
    score: float
    medallion: str
    weighted_completeness: float
    weighted_error_rate: float
    schema_errors: int


class ValidationReport(Out):
    valid: bool
    schema_version: str
    errors: list[FieldIssue]
    quality: QualityOut


class PageLinks(Out):
    next: str | None = Field(None, description="absolute URL of the next page, if any")
    prev: str | None = Field(None, description="absolute URL of the previous page, if any")


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


class DatasetPage(PageLinks):
    total: int
    page: int
    per_page: int
    items: list[DatasetSummary]


class VersionOut(DatasetSummary):
    """A published version. ``status`` is the dataset's: archived ones are seen only by their team."""

    status: Literal["active", "archived"]
    team: str
    member_group: str | None
    source_schema_version: str
    published_by: str
    schema_errors: list[FieldIssue]
    quality: QualityOut
    metadata: dict[str, Any]

    @classmethod
    def full(cls, v: DatasetVersion, dataset: Dataset, quality: dict[str, Any]) -> VersionOut:
        status = "archived" if dataset.status.value == "archived" else "active"
        return cls.model_validate({
            **DatasetSummary.of(v).model_dump(), "status": status, "team": dataset.team.name,
            "member_group": dataset.team.member_group, "source_schema_version": v.source_schema_version,
            "published_by": v.published_by, "schema_errors": v.schema_errors, "quality": quality,
            "metadata": v.document,
        })


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
    status: Literal["draft", "active", "archived"]
    team: str
    row_version: int
    latest_version: int
    validation: ValidationReport


class DraftDetail(DraftOut):
    """The draft as its team sees it: the document as submitted, with its schema version."""

    draft: dict[str, Any]


class UnpublishedDataset(Out):
    """A dataset never published yet, as its own team sees it on ``GET /datasets/{id}``: the draft's summary."""

    id: uuid.UUID
    status: Literal["draft"]
    team: str
    member_group: str | None
    title: str
    abstract: str | None
    row_version: int
    latest_version: int = Field(description="0: nothing published yet")
    draft_schema_version: str | None
    draft_updated_at: datetime | None


class StatusOut(Out):
    id: uuid.UUID
    status: Literal["draft", "active", "archived"]
    row_version: int
    latest_version: int


class Change(Out):
    path: str
    change: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None


class DiffOut(Out):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)
    from_version: int = Field(alias="from")
    to_version: int = Field(alias="to")
    changes: list[Change]


ValidationOut = ValidationReport
