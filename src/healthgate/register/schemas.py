"""Shapes of the register's JSON API for custodians: an entry in (every field of the data use register standard,
``register/fields.py``), an entry out, and a page of entries."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from healthgate.register import fields as F
from healthgate.register import service
from healthgate.register.models import RegisterEntry
from healthgate.web.schemas import In, IsoDate, Out

TEXT = 20_000
SHORT = 300
MAX_ITEMS = 200


def _doc(name: str) -> str:
    f = F.BY_NAME[name]
    lookup = f" One of: {'; '.join(v if len(v) < 50 else v[:47] + '...' for v in F.allowed(f))}." if f.lookup else ""
    return f"{f.label} ({f.group}).{lookup}"


class DatasetIn(In):
    name: str = Field("", max_length=1000, description="the dataset's name as the custodian writes it")
    dataset_id: uuid.UUID | None = Field(None, description="the catalogue dataset, when it is one")


class ApplicantIn(In):
    name: str = Field(min_length=1, max_length=SHORT)
    orcid: str | None = Field(None, max_length=60, description="ORCID iD, bare or as https://orcid.org/ URL")


class OutputIn(In):
    url: str = Field(min_length=1, max_length=2000, description="a DOI (10.x/..., doi:, https://doi.org/) or a URL")
    title: str | None = Field(None, max_length=1000)


class EntryIn(In):
    """Every field of an entry (a PUT replaces them all). Lookup fields accept the template's values in any
    case and spacing, and a GDPR article by its letter ("(e)")."""

    organisation_name: str = Field(max_length=TEXT, pattern=r"\S", description=_doc("organisation_name"))
    project_title: str = Field(max_length=TEXT, pattern=r"\S", description=_doc("project_title"))
    lay_summary: str = Field(max_length=TEXT, pattern=r"\S", description=_doc("lay_summary"))
    public_benefit: str = Field(max_length=TEXT, pattern=r"\S", description=_doc("public_benefit"))
    approval_date: IsoDate = Field(description=_doc("approval_date"))
    access_type: str = Field(max_length=40, pattern=r"\S", description=_doc("access_type"))
    datasets: list[DatasetIn] = Field(min_length=1, max_length=MAX_ITEMS, description=_doc("datasets"))
    project_id: str | None = Field(None, max_length=200, description=_doc("project_id"))
    organisation_ror: str | None = Field(None, max_length=60, description=_doc("organisation_ror"))
    organisation_sector: str | None = Field(None, max_length=200, description=_doc("organisation_sector"))
    applicants: list[ApplicantIn] = Field([], max_length=MAX_ITEMS, description=_doc("applicants"))
    funders: list[str] = Field([], max_length=MAX_ITEMS, description=_doc("funders"))
    accredited_researcher: str | None = Field(None, max_length=40, description=_doc("accredited_researcher"))
    sublicence: str | None = Field(None, max_length=TEXT, description=_doc("sublicence"))
    request_category: str | None = Field(None, max_length=200, description=_doc("request_category"))
    technical_summary: str | None = Field(None, max_length=TEXT, description=_doc("technical_summary"))
    other_approvals: str | None = Field(None, max_length=TEXT, description=_doc("other_approvals"))
    project_start: IsoDate | None = Field(None, description=_doc("project_start"))
    project_end: IsoDate | None = Field(None, description=_doc("project_end"))
    sensitivity: str | None = Field(None, max_length=100, description=_doc("sensitivity"))
    legal_basis: str | None = Field(None, max_length=TEXT, description=_doc("legal_basis"))
    lawful_condition: str | None = Field(None, max_length=TEXT, description=_doc("lawful_condition"))
    confidentiality_duty: str | None = Field(None, max_length=200, description=_doc("confidentiality_duty"))
    opt_out_applied: str | None = Field(None, max_length=40, description=_doc("opt_out_applied"))
    request_frequency: str | None = Field(None, max_length=40, description=_doc("request_frequency"))
    linkage_description: str | None = Field(None, max_length=TEXT, description=_doc("linkage_description"))
    confidential_description: str | None = Field(None, max_length=TEXT,
                                                 description=_doc("confidential_description"))
    access_date: IsoDate | None = Field(None, description=_doc("access_date"))
    privacy_enhancements: str | None = Field(None, max_length=TEXT, description=_doc("privacy_enhancements"))
    outputs: list[OutputIn] = Field([], max_length=MAX_ITEMS, description=_doc("outputs"))
    row_version: int | None = Field(None, ge=1, le=2**31 - 1,
                                    description="on update: the row_version you read (409 if stale)")

    @field_validator("funders")
    @classmethod
    def _funders(cls, value: list[str]) -> list[str]:
        if any(len(v) > 1000 for v in value):
            raise ValueError("a funder's name is at most 1000 characters")
        return value

    def data(self) -> service.EntryData:
        values = self.model_dump(exclude={"datasets", "applicants", "outputs", "funders", "row_version"})
        return service.EntryData(
            **values,
            datasets=[service.DatasetRef(d.name, d.dataset_id) for d in self.datasets],
            applicants=[service.Applicant(a.name, a.orcid) for a in self.applicants],
            funders=[f.strip() for f in self.funders if f.strip()],
            outputs=[service.output_of(o.url, o.title) for o in self.outputs],
        )


class ListQuery(In):
    status: Literal["draft", "published", "withdrawn"] | None = Field(None, description="only entries in this status")
    origin: Literal["application", "upload", "manual"] | None = Field(None, description="only entries from here")
    page: int = Field(1, ge=1, le=10**9)
    per_page: int = Field(20, ge=1, description="at most the server's max_per_page (100 by default)")


class DatasetOut(Out):
    name: str
    dataset_id: uuid.UUID | None = Field(description="the catalogue dataset (null: outside the catalogue)")


class ApplicantOut(Out):
    name: str
    orcid: str | None


class OutputOut(Out):
    kind: Literal["paper", "tool", "code", "link"]
    url: str
    doi: str | None
    title: str | None


class TeamOut(Out):
    id: uuid.UUID
    slug: str
    name: str


class EntryOut(Out):
    """An entry as the public sees it once published (its team sees its drafts and withdrawn ones too)."""

    id: uuid.UUID
    status: Literal["draft", "published", "withdrawn"]
    origin: Literal["application", "upload", "manual"]
    custodian: TeamOut
    application_id: uuid.UUID | None = Field(
        description="the application it was drafted from (shown to the custodian team only)")
    project_id: str | None
    organisation_name: str
    organisation_ror: str | None
    organisation_sector: str | None
    applicants: list[ApplicantOut]
    funders: list[str]
    accredited_researcher: str | None
    sublicence: str | None
    project_title: str
    lay_summary: str
    public_benefit: str
    request_category: str | None
    technical_summary: str | None
    other_approvals: str | None
    project_start: date | None
    project_end: date | None
    approval_date: date
    datasets: list[DatasetOut]
    sensitivity: str | None
    legal_basis: str | None
    lawful_condition: str | None
    confidentiality_duty: str | None
    opt_out_applied: str | None
    request_frequency: str | None
    linkage_description: str | None
    confidential_description: str | None
    access_date: date | None
    access_type: str
    privacy_enhancements: str | None
    outputs: list[OutputOut]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    row_version: int

    @classmethod
    def of(cls, entry: RegisterEntry, data: service.EntryData, team: TeamOut, *, manager: bool) -> EntryOut:
        scalars = {name: getattr(data, name) for name in service.SCALARS}
        return cls(
            id=entry.id, status=entry.status, origin=entry.origin,  # type: ignore[arg-type]
            custodian=team, application_id=entry.application_id if manager else None, **scalars,
            applicants=[ApplicantOut(name=a.name, orcid=a.orcid) for a in data.applicants],
            funders=list(data.funders),
            datasets=[DatasetOut(name=d.name, dataset_id=d.dataset_id) for d in data.datasets],
            outputs=[OutputOut(kind=o.kind, url=o.url, doi=o.doi, title=o.title)  # type: ignore[arg-type]
                     for o in data.outputs],
            created_at=entry.created_at, updated_at=entry.updated_at, published_at=entry.published_at,
            row_version=entry.row_version,
        )


class EntrySummary(Out):
    id: uuid.UUID
    status: Literal["draft", "published", "withdrawn"]
    origin: Literal["application", "upload", "manual"]
    project_id: str | None
    project_title: str
    organisation_name: str
    approval_date: date
    updated_at: datetime
    row_version: int
    application_id: uuid.UUID | None
    complete: bool = Field(description="every required field is filled in (only a complete entry publishes)")


class EntryPage(Out):
    items: list[EntrySummary]
    total: int
    page: int
    per_page: int
    next: str | None
    prev: str | None


# -- new access requests received, in aggregate --------------------------------------------------------------


class RequestsQuery(In):
    custodian: str | None = Field(None, min_length=1, max_length=300, description="one custodian team (id or slug)")
    start: IsoDate | None = Field(None, description="from this date's quarter")
    end: IsoDate | None = Field(None, description="to this date (inclusive)")


class QuarterCountOut(Out):
    quarter: str = Field(description='a calendar quarter in UTC, e.g. "2026-Q1"')
    received: int = Field(description="requests first submitted in the quarter")
    approved: int = Field(description="requests approved (with or without conditions) in the quarter")


class CustodianCountsOut(Out):
    custodian: TeamOut
    received: int = Field(description="requests received over the whole range")
    quarters: list[QuarterCountOut]


class QuarterCounts(Out):
    quarters: list[str]
    custodians: list[CustodianCountsOut] = Field(description="each custodian's requests (parts of applications)")
    totals: list[QuarterCountOut] = Field(description="the alliance: distinct applications")

    @classmethod
    def of(cls, counts: Any) -> QuarterCounts:
        def q(c: Any) -> QuarterCountOut:
            return QuarterCountOut(quarter=c.quarter, received=c.received, approved=c.approved)

        return cls(quarters=list(counts.quarters), totals=[q(c) for c in counts.totals],
                   custodians=[CustodianCountsOut(custodian=TeamOut(id=c.team_id, slug=c.slug, name=c.name),
                                                  received=c.received, quarters=[q(x) for x in c.quarters])
                               for c in counts.custodians])
