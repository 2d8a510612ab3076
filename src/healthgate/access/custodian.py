"""What the custodian's pages show, read in a few batched queries: a team's queue with titles, applicants and
clocks, one team's part of an application (never another team's internals), and a team's enquiries. Read-only:
every change goes through ``access.service``, ``access.messages`` and ``access.enquiries``; permissions are
theirs (``service.queue``, ``service.get``, ``enquiries.for_team``, ``enquiries.get``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from healthgate.access import clocks, enquiries, forms, messages
from healthgate.access import lifecycle as lc
from healthgate.access import service as applications
from healthgate.access.models import (
    Application,
    ApplicationDataset,
    ApplicationEvent,
    ApplicationPart,
    Enquiry,
    EnquiryDataset,
    Message,
)
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.context import Context
from healthgate.errors import NotFound
from healthgate.identity import members
from healthgate.identity.models import Team, User
from healthgate.identity.permissions import Permission, Role

# Queue filters: the part states each one shows ("" = every part of the team).
FILTERS: dict[str, tuple[str, tuple[lc.PartState, ...]]] = {
    "open": ("Open", (lc.PartState.SUBMITTED, lc.PartState.IN_REVIEW, lc.PartState.RETURNED)),
    "submitted": ("Waiting for us", (lc.PartState.SUBMITTED,)),
    "in_review": ("In review", (lc.PartState.IN_REVIEW,)),
    "returned": ("With the applicant", (lc.PartState.RETURNED,)),
    "decided": ("Decided", tuple(sorted(lc.DECIDED))),
    "closed": ("Closed or withdrawn", (lc.PartState.CLOSED, lc.PartState.WITHDRAWN)),
}
REVIEWER_ROLES = frozenset({Role.REVIEWER, Role.ACCESS_MANAGER, Role.TEAM_ADMIN})


# -- names, in batches -----------------------------------------------------------------------------------------


def dataset_titles(ctx: Context, dataset_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The title of each dataset's latest published version (requests are only for public datasets)."""
    ids = set(dataset_ids)
    if not ids:
        return {}
    latest = (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.latest_version)
    rows = ctx.session.execute(select(Dataset.id, DatasetVersion.title).join(DatasetVersion, latest)
                               .where(Dataset.id.in_(ids)))
    return {i: t for i, t in rows}


def user_names(ctx: Context, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    ids = {u for u in user_ids if u is not None}
    if not ids:
        return {}
    return {i: n for i, n in ctx.session.execute(select(User.id, User.name).where(User.id.in_(ids)))}


def team_names(ctx: Context, team_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = set(team_ids)
    if not ids:
        return {}
    return {i: n for i, n in ctx.session.execute(select(Team.id, Team.name).where(Team.id.in_(ids)))}


# -- the queue ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    application: Application
    part: ApplicationPart
    applicant: str
    datasets: list[str]  # this team's datasets in the application
    age_days: int  # calendar days since first submission (the clock, when there is one, counts working days)
    clock: clocks.PartClock | None


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    counts: dict[str, int]  # filter key -> parts
    total: int


def queue(ctx: Context, team_id: uuid.UUID, wanted: str = "") -> Queue:
    """The team's parts, oldest submission first, filtered by ``wanted`` (a key of FILTERS, or "" for all)."""
    everything = applications.queue(ctx, team_id)  # checks application:review on the team
    counts = {key: sum(1 for _, p in everything if p.state in {s.value for s in states})
              for key, (_, states) in FILTERS.items()}
    states = {s.value for s in FILTERS[wanted][1]} if wanted else None
    pairs = [(a, p) for a, p in everything if states is None or p.state in states]
    app_ids = [a.id for a, _ in pairs]
    by_app: dict[uuid.UUID, list[uuid.UUID]] = {}
    if app_ids:
        for app_id, dataset_id in ctx.session.execute(
                select(ApplicationDataset.application_id, ApplicationDataset.dataset_id)
                .where(ApplicationDataset.application_id.in_(app_ids), ApplicationDataset.team_id == team_id)
                .order_by(ApplicationDataset.position)):
            by_app.setdefault(app_id, []).append(dataset_id)
    titles = dataset_titles(ctx, [d for ds in by_app.values() for d in ds])
    names = user_names(ctx, [a.applicant_id for a, _ in pairs])
    now = ctx.now()
    rows = [QueueRow(application=a, part=p, applicant=names.get(a.applicant_id, "—"),
                     datasets=[titles.get(d, str(d)) for d in by_app.get(a.id, [])],
                     age_days=max(0, (now - _aware(p.submitted_at, now)).days),
                     clock=clocks.part_clock(ctx, a.id, team_id)) for a, p in pairs]
    return Queue(rows=rows, counts=counts, total=len(everything))


def _aware(at: datetime, like: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return at.replace(tzinfo=like.tzinfo) if at.tzinfo is None and like.tzinfo is not None else at


# -- one team's part ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    seq: int
    type: str
    at: datetime
    actor: str
    data: dict[str, Any]
    internal: bool  # reviewers and reviews: the team's eyes only


@dataclass(frozen=True)
class PartPage:
    view: applications.View
    team: Team
    part: lc.Part
    allowed: list[lc.Command]  # commands this person may run on this team's part now
    datasets: list[tuple[uuid.UUID, str]]  # this team's datasets
    other_parts: list[tuple[str, lc.PartState]]  # the other custodians' parts: name and state only
    applicant: str
    form: forms.ApplicationForm
    questions: dict[str, str]  # question id -> title, for messages about a question
    advice: list[dict[str, Any]]  # the DUO advice for this team's datasets, from the submission
    timeline: list[TimelineEntry]
    reviews: list[tuple[str, lc.Review]]
    reviewer_names: list[str]
    conversation: list[Message]  # shared with the applicant
    notes: list[Message]  # the team's internal notes
    authors: dict[uuid.UUID, str]
    clock: clocks.PartClock | None
    candidates: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)  # (id, name, roles) to assign

    @property
    def version(self) -> int:
        return self.view.state.version

    @property
    def titles(self) -> dict[str, str]:
        return {str(d): t for d, t in self.datasets}


def part_view(ctx: Context, team: Team, application_id: uuid.UUID) -> applications.View:
    """The application, for a person who reads ``team``'s part of it; 404 otherwise (also for another team's
    members, and for a team the application does not ask)."""
    view = applications.get(ctx, application_id)
    if team.id not in view.teams or team.id not in view.state.parts:
        raise NotFound(f"no application {application_id} for {team.name}")
    return view


def allowed_for(view: applications.View, team_id: uuid.UUID) -> list[lc.Command]:
    return [a.command for a in view.allowed if a.team_id == team_id]


def part_page(ctx: Context, team: Team, application_id: uuid.UUID) -> PartPage:
    view = part_view(ctx, team, application_id)
    state = view.state
    part = state.parts[team.id]
    rows = applications.event_rows(ctx, application_id)
    # this team's page: the whole application's events and this part's, never another part's internals
    seen = [r for r in applications.visible_events(view, rows) if r.team_id in (None, team.id)]
    ours = [d for d, t in state.datasets if t == team.id]
    titles = dataset_titles(ctx, ours)
    form = forms.form_for(ctx, state)
    thread = [m for m in messages.visible(ctx, "application", application_id) if m.team_id == team.id]
    reviewer_ids = [r.reviewer_id for r in part.reviews] + sorted(part.reviewers)
    names = user_names(ctx, [state.applicant_id, *reviewer_ids, *(m.author_id for m in thread)])
    others = team_names(ctx, [t for t in state.parts if t != team.id])
    allowed = allowed_for(view, team.id)
    candidates: list[tuple[uuid.UUID, str, str]] = []
    if lc.Command.ASSIGN_REVIEWERS in allowed:
        candidates = [(u.id, u.name, ", ".join(r.label for r in held)) for u, held in members.members(ctx, team)
                      if REVIEWER_ROLES & set(held)]
    return PartPage(
        view=view, team=team, part=part, allowed=allowed,
        datasets=[(d, titles.get(d, str(d))) for d in ours],
        other_parts=sorted(((others.get(t, "another custodian"), p.state) for t, p in state.parts.items()
                            if t != team.id), key=lambda x: x[0]),
        applicant=names.get(state.applicant_id, "—"), form=form,
        questions={q.id: q.title for s in form.sections for q in s.questions},
        advice=_advice(rows, set(ours)), timeline=[_entry(r, names) for r in seen],
        reviews=[(names.get(r.reviewer_id, "—"), r) for r in part.reviews],
        reviewer_names=[names.get(r, "—") for r in sorted(part.reviewers)],
        conversation=[m for m in thread if m.audience == "shared"],
        notes=[m for m in thread if m.audience == "team"], authors=names,
        clock=clocks.part_clock(ctx, application_id, team.id), candidates=candidates)


def _advice(rows: Sequence[ApplicationEvent], datasets: set[uuid.UUID]) -> list[dict[str, Any]]:
    """The DUO advice recorded on the (latest) submission, for this team's datasets only."""
    submitted = [r for r in rows if r.type == "submitted"]
    if not submitted:
        return []
    advice = submitted[-1].data.get("duo") or []
    return [a for a in advice if isinstance(a, dict) and str(a.get("dataset_id")) in {str(d) for d in datasets}]


def _entry(row: ApplicationEvent, names: dict[uuid.UUID, str]) -> TimelineEntry:
    data = dict(row.data or {})
    if row.type == "reviewers_assigned":
        data["reviewer_names"] = [names.get(uuid.UUID(r), r) for r in data.get("reviewers", [])]
    shown = {k: v for k, v in data.items() if k in ("reason", "conditions", "comment", "phase", "due",
                                                    "reviewer_names", "recommendation", "title")}
    return TimelineEntry(seq=row.seq, type=row.type, at=row.at, actor=row.actor_name, data=shown,
                         internal=row.type in lc.INTERNAL_EVENTS)


# -- enquiries -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnquiryRow:
    enquiry: Enquiry
    author: str
    datasets: list[str]
    messages: int
    last_from: str  # applicant | custodian: whose turn it is


def team_enquiries(ctx: Context, team_id: uuid.UUID) -> list[EnquiryRow]:
    found = enquiries.for_team(ctx, team_id)  # checks application:review on the team
    ids = [e.id for e in found]
    if not ids:
        return []
    by_enquiry: dict[uuid.UUID, list[uuid.UUID]] = {}
    for enquiry_id, dataset_id in ctx.session.execute(
            select(EnquiryDataset.enquiry_id, EnquiryDataset.dataset_id)
            .where(EnquiryDataset.enquiry_id.in_(ids), EnquiryDataset.team_id == team_id)):
        by_enquiry.setdefault(enquiry_id, []).append(dataset_id)
    titles = dataset_titles(ctx, [d for ds in by_enquiry.values() for d in ds])
    names = user_names(ctx, [e.author_id for e in found])
    # shared messages between the author and this team only (never another team's thread or notes)
    counts: dict[uuid.UUID, list[str]] = {}
    for thread_id, side in ctx.session.execute(
            select(Message.thread_id, Message.author_side)
            .where(Message.thread_type == "enquiry", Message.thread_id.in_(ids), Message.team_id == team_id,
                   Message.audience == "shared").order_by(Message.created_at, Message.id)):
        counts.setdefault(thread_id, []).append(side)
    return [EnquiryRow(enquiry=e, author=names.get(e.author_id, "—"),
                       datasets=[titles.get(d, str(d)) for d in by_enquiry.get(e.id, [])],
                       messages=len(counts.get(e.id, [])), last_from=(counts.get(e.id) or [""])[-1])
            for e in found]


@dataclass(frozen=True)
class EnquiryPage:
    enquiry: Enquiry
    team: Team
    author: str
    datasets: list[str]
    conversation: list[Message]
    notes: list[Message]
    authors: dict[uuid.UUID, str]


def enquiry_page(ctx: Context, team: Team, enquiry_id: uuid.UUID) -> EnquiryPage:
    """One enquiry as ``team`` sees it: its thread with the author and its internal notes (404 for anyone who
    does not read the team's enquiries, and for an enquiry that does not ask this team)."""
    enquiry = enquiries.get(ctx, enquiry_id)
    if team.id not in enquiries.teams_of(ctx, enquiry_id) or not ctx.actor.can(Permission.APPLICATION_REVIEW, team.id):
        raise NotFound(f"no enquiry {enquiry_id} for {team.name}")
    thread = [m for m in messages.visible(ctx, "enquiry", enquiry_id) if m.team_id == team.id]
    ours = list(ctx.session.scalars(select(EnquiryDataset.dataset_id).where(
        EnquiryDataset.enquiry_id == enquiry_id, EnquiryDataset.team_id == team.id)))
    titles = dataset_titles(ctx, ours)
    names = user_names(ctx, [enquiry.author_id, *(m.author_id for m in thread)])
    return EnquiryPage(enquiry=enquiry, team=team, author=names.get(enquiry.author_id, "—"),
                       datasets=[titles.get(d, str(d)) for d in ours],
                       conversation=[m for m in thread if m.audience == "shared"],
                       notes=[m for m in thread if m.audience == "team"], authors=names)
