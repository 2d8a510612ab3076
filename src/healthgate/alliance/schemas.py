"""Request and response models of the alliance API: members, letters of intent, obligations, statistics."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from healthgate.alliance import obligations as ob
from healthgate.alliance import service
from healthgate.alliance import statistics as st
from healthgate.alliance.models import LetterOfIntent, Member
from healthgate.identity.models import Organisation
from healthgate.web.schemas import IsoDate  # dates as YYYY-MM-DD only

MemberType = enum.StrEnum("MemberType", {k: k for k in service.MEMBER_TYPES})  # type: ignore[misc]
ObligationKey = enum.StrEnum("ObligationKey", {k: k for k in ob.OBLIGATIONS})  # type: ignore[misc]
ObligationStatus = enum.StrEnum("ObligationStatus", {k: k for k in ob.STATUSES})  # type: ignore[misc]
Sort = enum.StrEnum("Sort", {k: k for k in ob.SORTS})  # type: ignore[misc]
WAVE = r"^\d{4} ?[Qq][1-4]$"


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MemberIn(In):
    organisation: str = Field(min_length=1, max_length=300,
                              description="the organisation: its id, ROR id (or ROR URL) or slug")
    member_type: MemberType = Field(description="data-custodian, non-custodian-partner, industry-association, "
                                                "funder, patient-organisation or other")
    join_date: IsoDate
    wave: str | None = Field(default=None, pattern=WAVE, max_length=8,
                             description="the announcement wave, a quarter like '2026 Q3'; proposed from the join "
                                         "date when left out")
    announced_on: IsoDate | None = None
    left_on: IsoDate | None = Field(default=None, description="the day the member left (its obligations end)")
    public: StrictBool = Field(default=True, description="shown on the public members page")
    description: str | None = Field(default=None, max_length=service.MAX_DESCRIPTION)


class MemberUpdate(MemberIn):
    row_version: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1,
                                          description="the version you read; 409 if the member changed since")


class OrganisationRef(Out):
    id: uuid.UUID
    name: str
    slug: str
    ror_id: str | None

    @classmethod
    def of(cls, o: Organisation) -> OrganisationRef:
        return cls(id=o.id, name=o.name, slug=o.slug, ror_id=o.ror_id)


class MemberOut(Out):
    id: uuid.UUID
    organisation: OrganisationRef
    member_type: str
    member_type_label: str
    join_date: date
    wave: str | None
    announced_on: date | None
    left_on: date | None
    public: bool
    description: str | None
    row_version: int

    @classmethod
    def of(cls, m: Member, o: Organisation) -> MemberOut:
        return cls(id=m.id, organisation=OrganisationRef.of(o), member_type=m.member_type,
                   member_type_label=service.MEMBER_TYPES.get(m.member_type, m.member_type), join_date=m.join_date,
                   wave=m.wave, announced_on=m.announced_on, left_on=m.left_on, public=m.public,
                   description=m.description, row_version=m.row_version)


class MembersOut(Out):
    total: int
    items: list[MemberOut]


class LetterOut(Out):
    id: uuid.UUID
    member_id: uuid.UUID
    signed_on: date
    signatory_name: str
    signatory_position: str
    filename: str | None = Field(description="the signed document, when one is attached")
    content_type: str | None
    size: int | None
    sha256: str | None
    uploaded_at: datetime

    @classmethod
    def of(cls, x: LetterOfIntent) -> LetterOut:
        return cls(id=x.id, member_id=x.member_id, signed_on=x.signed_on, signatory_name=x.signatory_name,
                   signatory_position=x.signatory_position, filename=x.filename, content_type=x.content_type,
                   size=x.size, sha256=x.sha256, uploaded_at=x.uploaded_at)


class EvidenceOut(Out):
    label: str
    on: date | None
    ref: str | None
    url: str | None


class ObligationOut(Out):
    member_id: uuid.UUID
    organisation: OrganisationRef
    member_type: str
    join_date: date
    obligation: str = Field(description="discoverable | access-requests | register-quarterly")
    label: str
    status: str = Field(description="met | due | due-soon | overdue | not-applicable")
    due_on: date | None = Field(description="when it falls due (for a met quarterly obligation: the next due date)")
    met_on: date | None
    late: bool
    note: str
    evidence: list[EvidenceOut]

    @classmethod
    def of(cls, r: ob.Row) -> ObligationOut:
        o = r.obligation
        return cls(member_id=r.member.id, organisation=OrganisationRef.of(r.organisation),
                   member_type=r.member.member_type, join_date=r.member.join_date, obligation=o.key, label=o.label,
                   status=o.status, due_on=o.due_on, met_on=o.met_on, late=o.late, note=o.note,
                   evidence=[EvidenceOut(label=e.label, on=e.on, ref=e.ref, url=e.url) for e in o.evidence])


class StatusCount(Out):
    status: str
    obligations: int


class ObligationsOut(Out):
    as_of: date
    counts: list[StatusCount]
    items: list[ObligationOut]


class QuarterOut(Out):
    quarter: str
    received: int
    approved: int


class CustodianQuarterOut(Out):
    custodian: str
    team_id: uuid.UUID
    counts: list[int] = Field(description="requests received per quarter, in the order of `quarters`")
    total: int


class WaitingOut(Out):
    custodian: str
    team_id: uuid.UUID
    decisions: int = Field(description="decisions in the last 12 months")
    median_working_days: float | None = Field(description=f"null below {st.MIN_DECISIONS} decisions")


class CountOut(Out):
    name: str
    count: int


class RegisterOut(Out):
    sector: str
    total: int
    by_access_type: list[CountOut]


class QualityOut(Out):
    custodian: str
    team_id: uuid.UUID
    public_datasets: int
    mean_quality_score: float
    medallions: list[CountOut]


class StatisticsOut(Out):
    as_of: datetime
    quarters: list[str]
    requests: list[QuarterOut]
    requests_by_custodian: list[CustodianQuarterOut]
    waiting_times: list[WaitingOut]
    register_entries: list[RegisterOut]
    quality: list[QualityOut]

    @classmethod
    def of(cls, s: st.Statistics) -> StatisticsOut:
        return cls(
            as_of=s.as_of, quarters=s.quarters,
            requests=[QuarterOut(quarter=r.quarter, received=r.received, approved=r.approved) for r in s.requests],
            requests_by_custodian=[CustodianQuarterOut(custodian=c.custodian, team_id=c.team_id, counts=list(c.counts),
                                                       total=c.total) for c in s.requests_by_custodian],
            waiting_times=[WaitingOut(custodian=w.custodian, team_id=w.team_id, decisions=w.decisions,
                                      median_working_days=w.median_days) for w in s.waiting],
            register_entries=[RegisterOut(sector=r.sector, total=r.total,
                                          by_access_type=[CountOut(name=k, count=v)
                                                          for k, v in r.by_access_type.items()])
                              for r in s.register],
            quality=[QualityOut(custodian=q.custodian, team_id=q.team_id, public_datasets=q.datasets,
                                mean_quality_score=q.mean_score,
                                medallions=[CountOut(name=k, count=v) for k, v in q.medallions.items()])
                     for q in s.quality])
