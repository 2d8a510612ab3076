"""Shapes of the search API: its query parameters and its answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from healthgate.catalogue.schemas import PageLinks
from healthgate.search.engine import SORTS, Hit, Result

Sort = Literal["relevance", "title", "updated", "quality"]
assert set(Sort.__args__) == set(SORTS)  # type: ignore[attr-defined]
FacetValues = list[str]
# a year (1000-9999), an ISO date, or empty (as a form sends it)
_DATE_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "string", "pattern": "^[1-9][0-9]{3}$"},
                                          {"type": "string", "format": "date"}, {"const": ""}, {"type": "null"}]}


def _coverage_date(raw: str | None, end: bool) -> date | None:
    if not raw:
        return None
    if len(raw) == 4 and raw.isdigit():
        return date(int(raw), 12, 31) if end else date(int(raw), 1, 1)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError("not a date: use YYYY or YYYY-MM-DD") from None


class SearchParams(BaseModel):
    """Query parameters of ``GET /api/v1/search/datasets``. Facet parameters repeat for several values."""

    model_config = ConfigDict(frozen=True)

    q: str = Field("", description='words, "phrases", -exclusions, OR')
    custodian: FacetValues = Field([], max_length=50)
    member_group: FacetValues = Field([], max_length=50)
    data_type: FacetValues = Field([], max_length=50)
    geography: FacetValues = Field([], max_length=50)
    keyword: FacetValues = Field([], max_length=50)
    access_service: FacetValues = Field([], max_length=50)
    lead_time: FacetValues = Field([], max_length=50)
    medallion: FacetValues = Field([], max_length=50)
    population: FacetValues = Field([], max_length=50, description="a bucket such as 1,000-9,999 or unreported")
    date_from: str | None = Field(None, json_schema_extra=_DATE_SCHEMA,
                                  description="coverage overlaps from this date (YYYY or YYYY-MM-DD)")
    date_to: str | None = Field(None, json_schema_extra=_DATE_SCHEMA,
                                description="coverage overlaps up to this date (YYYY or YYYY-MM-DD)")
    sort: Sort | None = Field(None, description="default: relevance with words, else updated")
    page: int = Field(1, ge=1, le=10**9)
    per_page: int = Field(20, ge=1, description="at most the server's max_per_page (100 by default)")

    @field_validator("date_from")
    @classmethod
    def _from(cls, v: str | None) -> str | None:
        _coverage_date(v, end=False)
        return v

    @field_validator("date_to")
    @classmethod
    def _to(cls, v: str | None) -> str | None:
        _coverage_date(v, end=True)
        return v

    def start(self) -> date | None:
        return _coverage_date(self.date_from, end=False)

    def end(self) -> date | None:
        return _coverage_date(self.date_to, end=True)


class HitOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    title: str
    custodian: str | None
    member_group: str | None
    snippet: str = Field(description="HTML: the matched terms in <mark>, everything else escaped")
    score: float
    abstract: str
    keywords: list[str]
    medallion: str
    quality_score: float
    population_size: int | None
    start_date: date | None
    end_date: date | None
    updated_at: datetime | None
    record_date: date | None = Field(None, description="the record's own modified (else issued) date")
    record_version: str | None = Field(None, description="the record's own version label")
    matched_keywords: list[str] = Field(default_factory=list, description="HTML: its keywords the query matched, the matching words in <mark>")

    @classmethod
    def of(cls, h: Hit) -> HitOut:
        return cls(id=h.dataset_id, title=h.title, custodian=h.custodian, member_group=h.member_group,
                   snippet=h.snippet, score=h.score, abstract=h.abstract, keywords=h.keywords,
                   medallion=h.medallion, quality_score=h.quality_score, population_size=h.population_size,
                   start_date=h.start_date, end_date=h.end_date, updated_at=h.updated_at,
                   record_date=h.record_date, record_version=h.record_version,
                   matched_keywords=h.matched_keywords)


class FacetCount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    value: str
    count: int
    selected: bool


class SearchOut(PageLinks):
    total: int
    page: int
    per_page: int
    sort: str
    items: list[HitOut]
    facets: dict[str, list[FacetCount]]
    notes: list[str] = Field(description="how the query was read: corrections, ignored words, relaxations")

    @classmethod
    def of(cls, r: Result, *, next: str | None, prev: str | None) -> SearchOut:
        return cls(total=r.total, page=r.page, per_page=r.per_page, sort=r.sort,
                   items=[HitOut.of(h) for h in r.items],
                   facets={k: [FacetCount(**e) for e in v] for k, v in r.facets.items()},
                   notes=list(r.notes), next=next, prev=prev)


class SimilarOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[HitOut]
