"""The access-request lifecycle as pure functions: events, the state they fold into, and which commands whom.

An application is an append-only list of past-tense events. Its state is ``fold(events)``; nothing else is
the truth (the ``applications`` and ``application_parts`` rows are projections the service keeps beside the
log for queries, and ``fold`` rebuilds them). Which commands a person may run is a whitelist over
(state x relation), after CSCfi/rems; an application that covers the datasets of several custodians has one
*part* per custodian team, each with its own sub-state, after the BBMRI-ERIC Negotiator.

This module has no database and no clock: the service loads events, asks :func:`decide` for the next event
(it raises :class:`NotAllowed` naming the commands that are allowed), appends it, and folds it in.

    draft --submit--> submitted --return--> returned --resubmit--> submitted
                      submitted --assign_reviewers--> in_review --review--> in_review
          submitted | in_review --approve | approve_with_conditions | reject--> decided
    any non-terminal part --close--> closed (custodian); the whole application --withdraw--> withdrawn
    an approved application --amend | renew--> a new linked application (draft)
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from healthgate.errors import FieldError, Invalid


class PartState(enum.StrEnum):
    SUBMITTED = "submitted"  # waiting for the custodian (also after a resubmission)
    RETURNED = "returned"  # back with the applicant for changes: the clock is paused
    IN_REVIEW = "in_review"  # reviewers assigned
    APPROVED = "approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # the applicant withdrew the application
    CLOSED = "closed"  # closed by the custodian (after a decision, or abandoned)


class Status(enum.StrEnum):
    """The whole application as the applicant sees it, derived from its parts."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"  # at least one custodian returned it: the applicant must act
    IN_REVIEW = "in_review"
    APPROVED = "approved"  # every part approved
    APPROVED_WITH_CONDITIONS = "approved_with_conditions"  # every part approved, some with conditions
    PARTLY_APPROVED = "partly_approved"  # some parts approved, others rejected
    REJECTED = "rejected"  # every part rejected
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


DECIDED: frozenset[PartState] = frozenset(
    {PartState.APPROVED, PartState.APPROVED_WITH_CONDITIONS, PartState.REJECTED})
APPROVED: frozenset[PartState] = frozenset({PartState.APPROVED, PartState.APPROVED_WITH_CONDITIONS})
OPEN: frozenset[PartState] = frozenset({PartState.SUBMITTED, PartState.RETURNED, PartState.IN_REVIEW})
TERMINAL_STATUS: frozenset[Status] = frozenset({Status.WITHDRAWN, Status.CLOSED})


class Command(enum.StrEnum):
    # the applicant's side (applicant and collaborators, unless noted)
    SAVE = "save"  # answers, purpose and title
    CHANGE_DATASETS = "change_datasets"  # draft only
    SUBMIT = "submit"
    RESUBMIT = "resubmit"  # the parts that were returned
    WITHDRAW = "withdraw"  # the applicant only
    INVITE_COLLABORATOR = "invite_collaborator"  # the applicant only
    REMOVE_COLLABORATOR = "remove_collaborator"  # the applicant only
    AMEND = "amend"  # the applicant only: a new linked application changing an approved one
    RENEW = "renew"  # the applicant only: a new linked application extending an approved one
    # the custodian's side, on its own part
    RETURN = "return"
    ASSIGN_REVIEWERS = "assign_reviewers"
    REVIEW = "review"  # an assigned reviewer
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions"
    REJECT = "reject"
    CLOSE = "close"


APPLICANT_COMMANDS: frozenset[Command] = frozenset({
    Command.SAVE, Command.CHANGE_DATASETS, Command.SUBMIT, Command.RESUBMIT, Command.WITHDRAW,
    Command.INVITE_COLLABORATOR, Command.REMOVE_COLLABORATOR, Command.AMEND, Command.RENEW})
CUSTODIAN_COMMANDS: frozenset[Command] = frozenset(Command) - APPLICANT_COMMANDS
OWNER_ONLY: frozenset[Command] = frozenset({
    Command.WITHDRAW, Command.INVITE_COLLABORATOR, Command.REMOVE_COLLABORATOR, Command.AMEND, Command.RENEW})
DECISIONS: dict[Command, PartState] = {
    Command.APPROVE: PartState.APPROVED,
    Command.APPROVE_WITH_CONDITIONS: PartState.APPROVED_WITH_CONDITIONS,
    Command.REJECT: PartState.REJECTED,
}

# The past-tense event each command appends (AMEND/RENEW append to the *new* application's log as
# "created" and to the old one's as "amended"/"renewed").
EVENT_OF: dict[Command, str] = {
    Command.SAVE: "saved",
    Command.CHANGE_DATASETS: "datasets_changed",
    Command.SUBMIT: "submitted",
    Command.RESUBMIT: "resubmitted",
    Command.WITHDRAW: "withdrawn",
    Command.INVITE_COLLABORATOR: "collaborator_invited",
    Command.REMOVE_COLLABORATOR: "collaborator_removed",
    Command.AMEND: "amended",
    Command.RENEW: "renewed",
    Command.RETURN: "returned",
    Command.ASSIGN_REVIEWERS: "reviewers_assigned",
    Command.REVIEW: "reviewed",
    Command.APPROVE: "approved",
    Command.APPROVE_WITH_CONDITIONS: "approved_with_conditions",
    Command.REJECT: "rejected",
    Command.CLOSE: "closed",
}
EVENT_TYPES: frozenset[str] = frozenset({"created", *EVENT_OF.values()})

# Events whose data only the custodian team of their part may read (reviews and who reviews); every other
# event is shown to the applicant's side and to the custodians of the parts it concerns.
INTERNAL_EVENTS: frozenset[str] = frozenset({"reviewers_assigned", "reviewed"})


@dataclass(frozen=True, slots=True)
class Event:
    """One past-tense fact. ``team_id`` names the part it concerns (None: the whole application)."""

    type: str
    data: Mapping[str, Any]
    at: datetime
    actor_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Review:
    reviewer_id: uuid.UUID
    recommendation: str  # approve | approve_with_conditions | reject | return
    comment: str
    phase: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Part:
    """One custodian team's part of an application."""

    team_id: uuid.UUID
    state: PartState
    submitted_at: datetime  # first submission: the clock starts here
    returned_at: datetime | None = None  # set while returned: the clock is paused since then
    decided_at: datetime | None = None
    reviewers: frozenset[uuid.UUID] = frozenset()
    phase: str | None = None  # the current review phase ("review", "committee", ...)
    phase_due: date | None = None
    reviews: tuple[Review, ...] = ()
    conditions: tuple[str, ...] = ()
    reason: str | None = None  # why it was returned, rejected or closed


@dataclass(frozen=True, slots=True)
class State:
    id: uuid.UUID
    applicant_id: uuid.UUID
    version: int  # the number of events folded in: the next event's sequence number is version + 1
    kind: str = "new"  # new | amendment | renewal
    parent_id: uuid.UUID | None = None
    title: str = ""
    datasets: tuple[tuple[uuid.UUID, uuid.UUID], ...] = ()  # (dataset id, custodian team id), in order
    answers: Mapping[str, Any] = field(default_factory=dict)
    purpose: Mapping[str, Any] = field(default_factory=dict)
    templates: Mapping[str, str] = field(default_factory=dict)  # team id -> template id it keeps
    collaborators: frozenset[uuid.UUID] = frozenset()
    parts: Mapping[uuid.UUID, Part] = field(default_factory=dict)
    submitted: bool = False
    withdrawn: bool = False
    children: tuple[uuid.UUID, ...] = ()  # amendments and renewals started from this one

    @property
    def teams(self) -> tuple[uuid.UUID, ...]:
        seen: dict[uuid.UUID, None] = {}
        for _, team in self.datasets:
            seen.setdefault(team, None)
        return tuple(seen)

    @property
    def status(self) -> Status:
        return status_of(self)


def status_of(state: State) -> Status:
    if state.withdrawn:
        return Status.WITHDRAWN
    if not state.submitted:
        return Status.DRAFT
    parts = [p.state for p in state.parts.values()]
    if any(s == PartState.RETURNED for s in parts):
        return Status.RETURNED
    if any(s == PartState.IN_REVIEW for s in parts):
        return Status.IN_REVIEW
    if any(s == PartState.SUBMITTED for s in parts):
        return Status.SUBMITTED
    decided = [s for s in parts if s in DECIDED]
    if not decided:
        return Status.CLOSED
    if all(s == PartState.REJECTED for s in decided):
        return Status.REJECTED
    if any(s == PartState.REJECTED for s in decided):
        return Status.PARTLY_APPROVED
    if any(s == PartState.APPROVED_WITH_CONDITIONS for s in decided):
        return Status.APPROVED_WITH_CONDITIONS
    return Status.APPROVED


# -- folding ----------------------------------------------------------------------------------------------


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _part(state: State, event: Event) -> Part:
    if event.team_id is None or event.team_id not in state.parts:
        raise ValueError(f"event {event.type} names no part of this application")
    return state.parts[event.team_id]


def _with_part(state: State, part: Part) -> State:
    return replace(state, parts={**state.parts, part.team_id: part})


def apply(state: State, event: Event) -> State:
    """The state after one more event. Events are facts: this never refuses one that ``decide`` produced."""
    d = event.data
    s = replace(state, version=state.version + 1)
    t = event.type
    if t == "saved":
        answers = {**s.answers, **d.get("answers", {})}
        for key in d.get("cleared", ()):
            answers.pop(key, None)
        s = replace(s, answers=answers, purpose={**s.purpose, **d.get("purpose", {})},
                    title=d.get("title", s.title))
    elif t == "datasets_changed":
        s = replace(s, datasets=tuple((_uuid(x), _uuid(y)) for x, y in d["datasets"]),
                    templates={**s.templates, **d.get("templates", {})})
    elif t == "collaborator_invited":
        s = replace(s, collaborators=s.collaborators | {_uuid(d["user_id"])})
    elif t == "collaborator_removed":
        s = replace(s, collaborators=s.collaborators - {_uuid(d["user_id"])})
    elif t == "submitted":
        parts = {team: Part(team_id=team, state=PartState.SUBMITTED, submitted_at=event.at) for team in s.teams}
        s = replace(s, submitted=True, parts=parts)
    elif t == "resubmitted":
        parts = dict(s.parts)
        for team in d.get("teams", ()):
            p = parts[_uuid(team)]
            parts[p.team_id] = replace(p, state=PartState.SUBMITTED, returned_at=None, reason=None)
        s = replace(s, parts=parts)
    elif t == "returned":
        p = _part(s, event)
        s = _with_part(s, replace(p, state=PartState.RETURNED, returned_at=event.at, reason=d.get("reason")))
    elif t == "reviewers_assigned":
        p = _part(s, event)
        due = d.get("due")
        s = _with_part(s, replace(
            p, state=PartState.IN_REVIEW, reviewers=frozenset(_uuid(r) for r in d["reviewers"]),
            phase=d.get("phase") or "review", phase_due=date.fromisoformat(due) if due else None))
    elif t == "reviewed":
        p = _part(s, event)
        review = Review(reviewer_id=_uuid(event.actor_id), recommendation=d["recommendation"],
                        comment=d.get("comment", ""), phase=p.phase or "review", at=event.at)
        s = _with_part(s, replace(p, reviews=(*p.reviews, review)))
    elif t in ("approved", "approved_with_conditions", "rejected"):
        p = _part(s, event)
        s = _with_part(s, replace(p, state=PartState(t), decided_at=event.at,
                                  conditions=tuple(d.get("conditions", ())), reason=d.get("reason")))
    elif t == "closed":
        p = _part(s, event)
        s = _with_part(s, replace(p, state=PartState.CLOSED, reason=d.get("reason")))
    elif t == "withdrawn":
        parts = {k: (replace(p, state=PartState.WITHDRAWN) if p.state in OPEN else p) for k, p in s.parts.items()}
        s = replace(s, withdrawn=True, parts=parts)
    elif t in ("amended", "renewed"):
        s = replace(s, children=(*s.children, _uuid(d["application_id"])))
    elif t == "created":
        raise ValueError("'created' starts a log; it cannot follow other events")
    else:
        raise ValueError(f"unknown event type {t!r}")
    return s


def start(application_id: uuid.UUID, event: Event) -> State:
    """The state a 'created' event begins."""
    if event.type != "created":
        raise ValueError(f"a log starts with 'created', not {event.type!r}")
    d = event.data
    return State(
        id=application_id, applicant_id=_uuid(d["applicant_id"]), version=1, kind=d.get("kind", "new"),
        parent_id=_uuid(d["parent_id"]) if d.get("parent_id") else None, title=d.get("title", ""),
        datasets=tuple((_uuid(x), _uuid(y)) for x, y in d.get("datasets", ())),
        answers=dict(d.get("answers", {})), purpose=dict(d.get("purpose", {})),
        templates=dict(d.get("templates", {})))


def fold(application_id: uuid.UUID, events: Iterable[Event]) -> State:
    it = iter(events)
    state = start(application_id, next(it))
    for event in it:
        state = apply(state, event)
    return state


# -- who may do what -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Relation:
    """How one person stands to one application. ``managed``: teams whose parts they may handle
    (application:manage); ``reviewing``: teams whose part they are an assigned reviewer of."""

    user_id: uuid.UUID | None
    applicant: bool = False
    collaborator: bool = False
    managed: frozenset[uuid.UUID] = frozenset()
    reviewing: frozenset[uuid.UUID] = frozenset()

    @property
    def applicant_side(self) -> bool:
        return self.applicant or self.collaborator


def relation(state: State, user_id: uuid.UUID | None, managed_teams: Iterable[uuid.UUID]) -> Relation:
    managed = frozenset(managed_teams) & frozenset(state.parts)
    reviewing = frozenset(t for t, p in state.parts.items() if user_id is not None and user_id in p.reviewers)
    return Relation(user_id=user_id, applicant=user_id is not None and user_id == state.applicant_id,
                    collaborator=user_id is not None and user_id in state.collaborators,
                    managed=managed, reviewing=reviewing)


@dataclass(frozen=True, slots=True, order=True)
class Allowed:
    command: Command
    team_id: uuid.UUID | None = None  # the part it acts on (custodian commands)

    def as_dict(self) -> dict[str, str | None]:
        return {"command": self.command.value, "team_id": str(self.team_id) if self.team_id else None}


def _applicant_commands(state: State, rel: Relation) -> set[Command]:
    status = state.status
    out: set[Command] = set()
    if status in TERMINAL_STATUS:
        return out
    if status == Status.DRAFT:
        out |= {Command.SAVE, Command.CHANGE_DATASETS, Command.SUBMIT}
    if status == Status.RETURNED:
        out |= {Command.SAVE, Command.RESUBMIT}
    if rel.applicant:
        if any(p.state in OPEN for p in state.parts.values()) or status == Status.DRAFT:
            out.add(Command.WITHDRAW)
        if status != Status.REJECTED:
            out |= {Command.INVITE_COLLABORATOR, Command.REMOVE_COLLABORATOR}
        if any(p.state in APPROVED for p in state.parts.values()):
            out |= {Command.AMEND, Command.RENEW}
    return out


def _part_commands(part: Part, *, manages: bool, reviews: bool) -> set[Command]:
    out: set[Command] = set()
    if manages and part.state in (PartState.SUBMITTED, PartState.IN_REVIEW):
        out |= {Command.RETURN, Command.ASSIGN_REVIEWERS, *DECISIONS}
    if manages and part.state in (OPEN | DECIDED):
        out.add(Command.CLOSE)
    if reviews and part.state == PartState.IN_REVIEW:
        out.add(Command.REVIEW)
    return out


def allowed(state: State, rel: Relation) -> list[Allowed]:
    """Every command this person may run now, each custodian command with the part it acts on."""
    out = [Allowed(c) for c in _applicant_commands(state, rel) if rel.applicant_side
           and (rel.applicant or c not in OWNER_ONLY)]
    if state.status != Status.WITHDRAWN:
        for team, part in state.parts.items():
            out += [Allowed(c, team) for c in _part_commands(
                part, manages=team in rel.managed, reviews=team in rel.reviewing)]
    return sorted(out, key=lambda a: (a.command.value, str(a.team_id or "")))


class NotAllowed(Exception):
    """A command this person may not run in this state; ``allowed`` lists what they may run."""

    def __init__(self, command: Command, status: Status, allowed_now: list[Allowed]):
        names = sorted({a.command.value for a in allowed_now}) or ["none"]
        super().__init__(f"{command.value} is not allowed while the application is {status.value}; "
                         f"allowed now: {', '.join(names)}")
        self.command = command
        self.allowed = allowed_now


def _text(payload: Mapping[str, Any], key: str, *, required: bool, limit: int = 20_000) -> str:
    value = payload.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid(f"{key} is required", [FieldError(key, "give a value")])
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{key} must be text", [FieldError(key, "must be text")])
    if len(value) > limit:
        raise Invalid(f"{key} is too long", [FieldError(key, f"at most {limit} characters")])
    return value.strip()


def _conditions(payload: Mapping[str, Any]) -> list[str]:
    raw = payload.get("conditions")
    if isinstance(raw, str):
        raw = [line for line in raw.splitlines()]
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise Invalid("conditions must be a list of text", [FieldError("conditions", "a list of conditions")])
    items = [c.strip() for c in raw if c.strip()]
    if not items:
        raise Invalid("an approval with conditions needs at least one condition",
                      [FieldError("conditions", "give at least one condition")])
    return items


def decide(state: State, rel: Relation, command: Command, payload: Mapping[str, Any],
           *, team_id: uuid.UUID | None = None) -> tuple[str, dict[str, Any], uuid.UUID | None]:
    """Check ``command`` against the whitelist and its payload, and return the event to append as
    (type, data, team id). Raises :class:`NotAllowed` or ``Invalid`` (naming the field)."""
    now_allowed = allowed(state, rel)
    if command in CUSTODIAN_COMMANDS:
        if team_id is None and len({a.team_id for a in now_allowed if a.command == command}) == 1:
            team_id = next(a.team_id for a in now_allowed if a.command == command)
        ok = Allowed(command, team_id) in now_allowed
    else:
        team_id = None
        ok = Allowed(command) in now_allowed
    if not ok:
        raise NotAllowed(command, state.status, now_allowed)
    event = EVENT_OF[command]
    data: dict[str, Any] = {}
    if command == Command.RESUBMIT:
        data["teams"] = sorted(str(t) for t, p in state.parts.items() if p.state == PartState.RETURNED)
    elif command == Command.RETURN:
        data["reason"] = _text(payload, "reason", required=True)
    elif command == Command.ASSIGN_REVIEWERS:
        reviewers = payload.get("reviewers")
        if not isinstance(reviewers, list) or not reviewers:
            raise Invalid("assign at least one reviewer", [FieldError("reviewers", "give at least one reviewer")])
        try:
            data["reviewers"] = sorted({str(_uuid(r)) for r in reviewers})
        except (ValueError, TypeError, AttributeError):
            raise Invalid("reviewers are people's ids", [FieldError("reviewers", "a list of people's ids")]) from None
        data["phase"] = _text(payload, "phase", required=False, limit=80) or "review"
        due = payload.get("due")
        if due:
            try:
                data["due"] = date.fromisoformat(str(due)).isoformat()
            except ValueError:
                raise Invalid("due must be a date", [FieldError("due", "a date as YYYY-MM-DD")]) from None
    elif command == Command.REVIEW:
        rec = payload.get("recommendation")
        options = ("approve", "approve_with_conditions", "reject", "return")
        if rec not in options:
            raise Invalid("recommendation is required",
                          [FieldError("recommendation", f"one of {', '.join(options)}")])
        data["recommendation"] = rec
        data["comment"] = _text(payload, "comment", required=False)
    elif command == Command.APPROVE:
        if payload.get("comment"):
            data["comment"] = _text(payload, "comment", required=False)
    elif command == Command.APPROVE_WITH_CONDITIONS:
        data["conditions"] = _conditions(payload)
    elif command in (Command.REJECT, Command.CLOSE):
        data["reason"] = _text(payload, "reason", required=command == Command.REJECT)
    elif command == Command.WITHDRAW:
        reason = _text(payload, "reason", required=False)
        if reason:
            data["reason"] = reason
    elif command in (Command.INVITE_COLLABORATOR, Command.REMOVE_COLLABORATOR):
        try:
            user = _uuid(payload.get("user_id"))
        except (ValueError, TypeError):
            raise Invalid("user_id is required", [FieldError("user_id", "a person's id")]) from None
        if user == state.applicant_id:
            raise Invalid("the applicant is not a collaborator", [FieldError("user_id", "is the applicant")])
        if command == Command.REMOVE_COLLABORATOR and user not in state.collaborators:
            raise Invalid("not a collaborator", [FieldError("user_id", "is not a collaborator")])
        data["user_id"] = str(user)
    # SAVE, CHANGE_DATASETS, SUBMIT, AMEND and RENEW carry data the service prepares (answers, datasets with
    # their teams and pinned templates, DUO advice, the new application's id).
    return event, data, team_id
