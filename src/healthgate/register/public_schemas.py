"""Shapes of the public register's search API, ``GET /api/v1/data-uses``: its query parameters and answer."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from healthgate.catalogue.schemas import PageLinks
from healthgate.register.search import SORTS, UseHit, UseResult, approval_bound

Sort = Literal["relevance", "approved", "title"]
assert set(Sort.__args__) == set(SORTS)  # type: ignore[attr-defined]
FacetValues = list[str]
# a year, a month, an ISO date, or empty (as a form sends it)
_BOUND_SCHEMA: dict[str, Any] = {"anyOf": [
    {"type": "string", "pattern": "^[1-9][0-9]{3}$"}, {"type": "string", "pattern": "^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"},
    {"type": "string", "format": "date"}, {"const": ""}, {"type": "null"}]}


class DataUseSearchParams(BaseModel):
    """Query parameters of ``GET /api/v1/data-uses``. Facet parameters repeat for several values (OR-ed);
    different facets are AND-ed."""

    model_config = ConfigDict(frozen=True)

    q: str = Field("", max_length=1000, description='words, "phrases", -exclusions, OR')
    custodian: FacetValues = Field([], max_length=50, description="the data custodian reporting the entry")
    organisation: FacetValues = Field([], max_length=50, description="the organisation using the data")
    sector: FacetValues = Field([], max_length=50, description="the organisation's sector")
    dataset: FacetValues = Field([], max_length=50, description="a dataset used (its catalogue title or name)")
    access_type: FacetValues = Field([], max_length=50, description="TRE or Release")
    legal_basis: FacetValues = Field([], max_length=50,
                                     description='GDPR Article 6 basis: its letter ("e"), short label or text')
    approved_from: str | None = Field(None, json_schema_extra=_BOUND_SCHEMA,
                                      description="approved on or after (YYYY, YYYY-MM or YYYY-MM-DD)")
    approved_to: str | None = Field(None, json_schema_extra=_BOUND_SCHEMA,
                                    description="approved on or before (YYYY, YYYY-MM or YYYY-MM-DD: its last day)")
    date_from: str | None = Field(None, json_schema_extra=_BOUND_SCHEMA,
                                  description="the same as approved_from (as the dataset search names it)")
    date_to: str | None = Field(None, json_schema_extra=_BOUND_SCHEMA,
                                description="the same as approved_to (as the dataset search names it)")
    sort: Sort | None = Field(None, description="default: relevance with words, else approved (newest first)")
    page: int = Field(1, ge=1, le=10**9)
    per_page: int = Field(20, ge=1, description="at most the server's max_per_page (100 by default)")

    @field_validator("approved_from", "date_from")
    @classmethod
    def _from(cls, v: str | None) -> str | None:
        try:
            approval_bound(v, end=False)
        except ValueError:
            raise ValueError("not a date: use YYYY, YYYY-MM or YYYY-MM-DD") from None
        return v

    @field_validator("approved_to", "date_to")
    @classmethod
    def _to(cls, v: str | None) -> str | None:
        try:
            approval_bound(v, end=True)
        except ValueError:
            raise ValueError("not a date: use YYYY, YYYY-MM or YYYY-MM-DD") from None
        return v

    def bounds(self) -> tuple[date | None, date | None]:
        return (approval_bound(self.approved_from or self.date_from, end=False),
                approval_bound(self.approved_to or self.date_to, end=True))


class UsedDatasetOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(description="as the custodian wrote it")
    id: uuid.UUID | None = Field(None, description="the catalogue dataset, when matched")
    title: str | None = Field(None, description="the catalogue dataset's title")
    url: str | None = Field(None, description="the catalogue dataset's page")


class DataUseHitOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    url: str = Field(description="the entry's public page")
    title: str
    snippet: str = Field(description="HTML: the matched terms in <mark>, everything else escaped")
    score: float
    custodian: str
    organisation: str
    organisation_ror: str | None
    organisation_url: str | None = Field(description="the organisation's page here (by ROR id, else slug)")
    sector: str | None
    datasets: list[UsedDatasetOut]
    access_type: str | None
    legal_basis: str | None
    approval_date: date | None
    project_id: str | None

    @classmethod
    def of(cls, h: UseHit, base: str) -> DataUseHitOut:
        org_ref = h.organisation_ror or h.organisation_slug
        return cls(
            id=h.id, url=f"{base}/data-uses/{h.id}", title=h.title, snippet=h.snippet, score=h.score,
            custodian=h.custodian, organisation=h.organisation, organisation_ror=h.organisation_ror,
            organisation_url=f"{base}/organisations/{org_ref}" if org_ref else None, sector=h.sector,
            datasets=[UsedDatasetOut(name=d.get("name") or "", id=d.get("id"), title=d.get("title"),
                                     url=f"{base}/datasets/{d['id']}" if d.get("id") else None) for d in h.datasets],
            access_type=h.access_type, legal_basis=h.legal_basis, approval_date=h.approval_date,
            project_id=h.project_id,
        )


class DataUseFacetCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: str
    count: int
    selected: bool


class DataUseSearchOut(PageLinks):
    total: int
    page: int
    per_page: int
    sort: str
    items: list[DataUseHitOut]
    facets: dict[str, list[DataUseFacetCount]] = Field(
        description="per facet (custodian, organisation, sector, dataset, access_type, legal_basis): its values "
                    "with counts; each facet's counts ignore its own selection")
    notes: list[str] = Field(description="how the query was read: corrections, ignored words, relaxations")

    @classmethod
    def of(cls, r: UseResult, base: str, *, next: str | None, prev: str | None) -> DataUseSearchOut:
        return cls(total=r.total, page=r.page, per_page=r.per_page, sort=r.sort,
                   items=[DataUseHitOut.of(h, base) for h in r.items],
                   facets={k: [DataUseFacetCount(**e) for e in v] for k, v in r.facets.items()},
                   notes=list(r.notes), next=next, prev=prev)
