"""Shapes of the access-request JSON API: applications (the View one person may see), commands, events,
messages and notes, enquiries, and the custodian's queue."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from healthgate.access import lifecycle as lc
from healthgate.access.models import Application, ApplicationEvent, ApplicationPart, Enquiry, Message
from healthgate.web.schemas import In, Out

TEXT = r"\S"
MAX_DATASETS = 50


# -- input -------------------------------------------------------------------------------------------------


class PageQuery(In):
    page: int = Field(1, ge=1, le=10**9)
    per_page: int = Field(20, ge=1, description="at most the server's max_per_page (100 by default)")


class QueueQuery(PageQuery):
    state: list[lc.PartState] | None = Field(None, description="only parts in these states (repeat the parameter)")


class ApplicationIn(In):
    dataset_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_DATASETS,
                                         description="public datasets, of one custodian or several")
    title: str = Field("", max_length=500, description="the project's title (may be given later)")


class CommandIn(In):
    """What a command carries; each command reads only its own fields (it ignores the others):

    - ``save``: ``answers`` (question id -> answer), ``purpose`` (the DUO purpose), ``title``
    - ``change_datasets`` (draft): ``dataset_ids``
    - ``return``: ``reason``; ``reject``: ``reason``; ``close``, ``withdraw``: optional ``reason``
    - ``assign_reviewers``: ``reviewers`` (people of the team), optional ``phase`` and ``due``
    - ``review`` (an assigned reviewer): ``recommendation``, optional ``comment``
    - ``approve``: optional ``comment``; ``approve_with_conditions``: ``conditions``
    - ``invite_collaborator``, ``remove_collaborator``: ``user_id``
    - ``amend``, ``renew``: optional ``title`` of the new linked application
    - ``submit``, ``resubmit``: nothing

    A custodian command acts on the caller's part; ``team_id`` says which when they handle several.
    ``version`` (or the ``If-Match`` header) is the version read: a stale one is refused."""

    version: int | None = Field(None, ge=1, le=2**31 - 1,
                                description="optimistic concurrency: the version you read (409 if stale)")
    team_id: uuid.UUID | None = Field(None, description="the custodian part a custodian command acts on")
    title: str | None = Field(None, max_length=500)
    answers: dict[str, Any] | None = Field(None, description="question id -> answer")
    purpose: dict[str, Any] | None = Field(None, description="the stated purpose (DUO terms, diseases, commercial)")
    dataset_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=MAX_DATASETS)
    reason: str | None = Field(None, max_length=20_000)
    reviewers: list[uuid.UUID] | None = Field(None, min_length=1, max_length=50)
    phase: str | None = Field(None, max_length=80)
    due: date | None = Field(None, description="the review phase's deadline")
    recommendation: Literal["approve", "approve_with_conditions", "reject", "return"] | None = None
    comment: str | None = Field(None, max_length=20_000)
    conditions: list[str] | None = Field(None, min_length=1, max_length=100)
    user_id: uuid.UUID | None = Field(None, description="the collaborator to invite or remove")

    def payload(self) -> dict[str, Any]:
        """The command's payload as the service reads it (JSON values: ids and dates as text)."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"version", "team_id"})


class MessageIn(In):
    body: str = Field(min_length=1, max_length=20_000, pattern=TEXT)
    audience: Literal["shared", "team", "applicant"] = Field(
        "shared", description="shared: a message between the applicant's side and one custodian team; team: "
        "that team's internal note; applicant: the applicant side's own note")
    team_id: uuid.UUID | None = Field(None, description="the custodian team (needed when there are several)")
    question_id: str | None = Field(None, max_length=200, description="the question it is about, if any")


class EnquiryIn(In):
    dataset_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_DATASETS)
    subject: str = Field(min_length=1, max_length=300, pattern=TEXT)
    body: str = Field(min_length=1, max_length=20_000, pattern=TEXT)
    kind: Literal["general", "feasibility"] = "general"


class EnquiryApplicationIn(In):
    title: str = Field("", max_length=500, description="the application's title (the enquiry's subject if empty)")


# -- output ------------------------------------------------------------------------------------------------


class AllowedOut(Out):
    command: lc.Command
    team_id: uuid.UUID | None = Field(None, description="the part a custodian command acts on")


class DatasetRef(Out):
    dataset_id: uuid.UUID
    team_id: uuid.UUID = Field(description="its custodian team: the part that decides it")


class ReviewOut(Out):
    reviewer_id: uuid.UUID
    recommendation: str
    comment: str
    phase: str
    at: datetime


class _PartClock(Out):
    """Where a part stands and when it moved: shared by a part of an application and a row of a queue."""

    state: lc.PartState
    submitted_at: datetime
    returned_at: datetime | None
    decided_at: datetime | None
    phase: str | None
    phase_due: date | None


class PartOut(_PartClock):
    """One custodian team's part. Reviewers and reviews are shown to that team only."""

    team_id: uuid.UUID
    conditions: list[str]
    reason: str | None
    reviewers: list[uuid.UUID] | None = None
    reviews: list[ReviewOut] | None = None

    @classmethod
    def of(cls, part: lc.Part, internal: bool) -> PartOut:
        return cls(team_id=part.team_id, state=part.state, submitted_at=part.submitted_at,
                   returned_at=part.returned_at, decided_at=part.decided_at, phase=part.phase,
                   phase_due=part.phase_due, conditions=list(part.conditions), reason=part.reason,
                   reviewers=sorted(part.reviewers) if internal else None,
                   reviews=[ReviewOut(reviewer_id=r.reviewer_id, recommendation=r.recommendation,
                                      comment=r.comment, phase=r.phase, at=r.at) for r in part.reviews]
                   if internal else None)


class ApplicationOut(Out):
    """An application as the caller may see it: its state (a fold of its events), its parts, and the commands
    the caller may run now. ``version`` is its ETag and what a command names."""

    id: uuid.UUID
    reference: str
    kind: str
    parent_id: uuid.UUID | None
    enquiry_id: uuid.UUID | None
    children: list[uuid.UUID]
    title: str
    status: lc.Status
    version: int
    applicant_id: uuid.UUID
    collaborators: list[uuid.UUID]
    datasets: list[DatasetRef]
    parts: list[PartOut]
    answers: dict[str, Any]
    purpose: dict[str, Any]
    templates: dict[str, Any]
    allowed: list[AllowedOut]
    side: Literal["applicant", "custodian"]
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None

    @classmethod
    def of(cls, view: Any) -> ApplicationOut:
        """From ``access.service.View``."""
        row: Application = view.row
        state: lc.State = view.state
        return cls(
            id=row.id, reference=row.reference, kind=state.kind, parent_id=state.parent_id,
            enquiry_id=row.enquiry_id, children=list(state.children), title=state.title, status=state.status,
            version=state.version, applicant_id=state.applicant_id, collaborators=sorted(state.collaborators),
            datasets=[DatasetRef(dataset_id=d, team_id=t) for d, t in state.datasets],
            parts=[PartOut.of(p, p.team_id in view.teams) for p in state.parts.values()],
            answers=dict(state.answers), purpose=dict(state.purpose), templates=dict(state.templates),
            allowed=[AllowedOut(command=a.command, team_id=a.team_id) for a in view.allowed],
            side="applicant" if view.applicant_side else "custodian",
            created_at=row.created_at, updated_at=row.updated_at, submitted_at=row.submitted_at)


class ApplicationSummary(Out):
    id: uuid.UUID
    reference: str
    kind: str
    title: str
    status: lc.Status
    version: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None

    @classmethod
    def of(cls, row: Application) -> ApplicationSummary:
        return cls(id=row.id, reference=row.reference, kind=row.kind, title=row.title,
                   status=lc.Status(row.status), version=row.version, created_at=row.created_at,
                   updated_at=row.updated_at, submitted_at=row.submitted_at)


class Page(Out):
    total: int
    page: int
    per_page: int
    next: str | None = Field(None, description="absolute URL of the next page, if any")
    prev: str | None = Field(None, description="absolute URL of the previous page, if any")


class ApplicationPage(Page):
    items: list[ApplicationSummary]


class QueueItem(_PartClock):
    """One application's part in a custodian team's queue."""

    application_id: uuid.UUID
    reference: str
    title: str
    status: lc.Status
    version: int
    reviewers: list[uuid.UUID]

    @classmethod
    def of(cls, app: Application, part: ApplicationPart) -> QueueItem:
        return cls(application_id=app.id, reference=app.reference, title=app.title,
                   status=lc.Status(app.status), version=app.version, state=lc.PartState(part.state),
                   submitted_at=part.submitted_at, returned_at=part.returned_at, decided_at=part.decided_at,
                   phase=part.phase, phase_due=part.phase_due, reviewers=[uuid.UUID(r) for r in part.reviewers])


class QueuePage(Page):
    items: list[QueueItem]


class EventOut(Out):
    seq: int
    type: str
    at: datetime
    team_id: uuid.UUID | None = Field(description="the part it concerns (null: the whole application)")
    actor_id: uuid.UUID | None
    data: dict[str, Any]

    @classmethod
    def of(cls, row: ApplicationEvent) -> EventOut:
        return cls(seq=row.seq, type=row.type, at=row.at, team_id=row.team_id, actor_id=row.actor_id,
                   data=dict(row.data or {}))


class MessageOut(Out):
    id: uuid.UUID
    audience: str
    team_id: uuid.UUID | None
    question_id: str | None
    author_id: uuid.UUID | None
    author_side: str
    body: str
    created_at: datetime

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(id=m.id, audience=m.audience, team_id=m.team_id, question_id=m.question_id,
                   author_id=m.author_id, author_side=m.author_side, body=m.body, created_at=m.created_at)


class EnquiryOut(Out):
    id: uuid.UUID
    reference: str
    kind: str
    subject: str
    author_id: uuid.UUID
    dataset_ids: list[uuid.UUID]
    team_ids: list[uuid.UUID]
    application_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, e: Enquiry, dataset_ids: list[uuid.UUID], team_ids: list[uuid.UUID]) -> EnquiryOut:
        return cls(id=e.id, reference=e.reference, kind=e.kind, subject=e.subject, author_id=e.author_id,
                   dataset_ids=dataset_ids, team_ids=team_ids, application_id=e.application_id,
                   created_at=e.created_at, updated_at=e.updated_at)


class EnquiryPage(Page):
    items: list[EnquiryOut]
