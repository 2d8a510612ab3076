"""Access-request operations: the only code that writes applications. Pages, the JSON API and the CLI call
these. A command is checked against the lifecycle's whitelist, becomes one past-tense event appended to the
application's log under optimistic concurrency, and the projections, the audit log and the outbox follow in
the same transaction."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from healthgate.access import duo, forms, notify
from healthgate.access import lifecycle as lc
from healthgate.access.models import Application, ApplicationDataset, ApplicationEvent, ApplicationPart
from healthgate.audit import service as audit
from healthgate.catalogue.models import Dataset, DatasetStatus
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Unauthorized
from healthgate.identity.models import Membership
from healthgate.identity.permissions import Permission, Role, require
from healthgate.register import applications as register_feed

MAX_DATASETS = 50


def reference(prefix: str, at: datetime) -> str:
    """A short reference people can quote on the phone: DAR-2026-7F3A9C2E."""
    return f"{prefix}-{at.year}-{secrets.token_hex(4).upper()}"


def user_id_of(ctx: Context) -> uuid.UUID:
    """The acting person (access requests are made by people, not by the system)."""
    if not ctx.actor.authenticated:
        raise Unauthorized("sign in to request access")
    if ctx.actor.user_id is None:
        raise Invalid("access requests are made by a person", [FieldError("actor", "act as a signed-in person")])
    return ctx.actor.user_id


def writer_id(ctx: Context) -> uuid.UUID:
    """The acting person, who must be acting in a way that may change things: a "read" API token may read
    their applications but not start, change or message them (no team permission covers a person's own
    requests, so the token's scope is checked here)."""
    me = user_id_of(ctx)
    if not ctx.actor.writes():
        raise Forbidden("a read-only token cannot change anything; use a write token")
    return me


def _acting(ctx: Context, rel: lc.Relation) -> lc.Relation:
    """The relation as far as the way this person acts lets them change things: a write token reviews only for
    the teams it names (managing is already limited by the token's scope)."""
    return replace(rel, reviewing=frozenset(t for t in rel.reviewing if ctx.actor.writes(t)))


def _allowed(ctx: Context, state: lc.State, rel: lc.Relation) -> list[lc.Allowed]:
    return lc.allowed(state, _acting(ctx, rel)) if ctx.actor.writes() else []


# -- reading -------------------------------------------------------------------------------------------------


def _event(row: ApplicationEvent) -> lc.Event:
    return lc.Event(type=row.type, data=row.data, at=row.at, actor_id=row.actor_id, team_id=row.team_id)


def event_rows(ctx: Context, application_id: uuid.UUID) -> list[ApplicationEvent]:
    return list(ctx.session.scalars(select(ApplicationEvent).where(ApplicationEvent.application_id == application_id)
                                    .order_by(ApplicationEvent.seq)))


def load_state(ctx: Context, application_id: uuid.UUID) -> lc.State:
    rows = event_rows(ctx, application_id)
    if not rows:
        raise NotFound(f"no application {application_id}")
    return lc.fold(application_id, [_event(r) for r in rows])


def managed_teams(ctx: Context, team_ids: Iterable[uuid.UUID]) -> frozenset[uuid.UUID]:
    return frozenset(t for t in team_ids if ctx.actor.can(Permission.APPLICATION_MANAGE, t))


def relation(ctx: Context, state: lc.State) -> lc.Relation:
    return lc.relation(state, ctx.actor.user_id, managed_teams(ctx, state.parts))


def readable_teams(ctx: Context, state: lc.State) -> frozenset[uuid.UUID]:
    """The parts whose custodian side this person belongs to (drafts are never shown to custodians)."""
    if not state.submitted:
        return frozenset()
    return frozenset(t for t in state.parts if ctx.actor.can(Permission.APPLICATION_REVIEW, t))


def can_read(ctx: Context, state: lc.State) -> bool:
    rel = relation(ctx, state)
    return rel.applicant_side or bool(readable_teams(ctx, state)) or bool(rel.reviewing)


@dataclass(frozen=True)
class View:
    """An application as one person may see it."""

    row: Application
    state: lc.State
    relation: lc.Relation
    allowed: list[lc.Allowed]
    teams: frozenset[uuid.UUID]  # the custodian parts this person reads as custodian (empty: applicant side)

    @property
    def applicant_side(self) -> bool:
        return self.relation.applicant_side


def get(ctx: Context, application_id: uuid.UUID) -> View:
    """The application, if this person may see it: its applicant side, or a custodian team of one of its
    parts after submission. Anyone else gets 404 (never "it exists but is not yours")."""
    if not ctx.actor.authenticated:
        raise Unauthorized("sign in to see applications")
    row = ctx.session.get(Application, application_id)
    if row is None:
        raise NotFound(f"no application {application_id}")
    state = load_state(ctx, application_id)
    if not can_read(ctx, state):
        raise NotFound(f"no application {application_id}")
    rel = relation(ctx, state)
    return View(row=row, state=state, relation=rel, allowed=_allowed(ctx, state, rel),
                teams=readable_teams(ctx, state) | rel.reviewing)


def visible_events(view: View, rows: Sequence[ApplicationEvent]) -> list[ApplicationEvent]:
    """The log as this person may read it: the applicant side sees every event but the custodians' internal
    ones (who reviews, what reviewers said); a custodian sees the events of its own parts and of the whole."""
    return [r for r in rows if _reads(view, r)]


def _reads(view: View, r: ApplicationEvent) -> bool:
    internal = r.type in lc.INTERNAL_EVENTS
    if view.applicant_side and not internal:
        return True
    if r.team_id is None:
        return not internal and bool(view.teams)
    return r.team_id in view.teams


def mine(ctx: Context) -> list[Application]:
    """The applications this person applies for or collaborates on, newest first."""
    me = user_id_of(ctx)
    # collaborators is a JSON list of ids: its text holds the id exactly when they collaborate
    stmt = select(Application).where(or_(Application.applicant_id == me,
                                         cast(Application.collaborators, Text).contains(str(me))))
    rows = ctx.session.scalars(stmt.order_by(Application.updated_at.desc(), Application.id))
    return [r for r in rows if r.applicant_id == me or str(me) in (r.collaborators or [])]


def queue(ctx: Context, team_id: uuid.UUID, states: Iterable[str] | None = None
          ) -> list[tuple[Application, ApplicationPart]]:
    """A custodian team's parts (with their applications), oldest submission first."""
    require(ctx.actor, Permission.APPLICATION_REVIEW, on=team_id)
    stmt = (select(Application, ApplicationPart).join(ApplicationPart, ApplicationPart.application_id == Application.id)
            .where(ApplicationPart.team_id == team_id).order_by(ApplicationPart.submitted_at, Application.id))
    wanted = list(states or ())
    if wanted:
        stmt = stmt.where(ApplicationPart.state.in_(wanted))
    return [(a, p) for a, p in ctx.session.execute(stmt)]


# -- writing ---------------------------------------------------------------------------------------------------


def _datasets(ctx: Context, dataset_ids: Sequence[uuid.UUID], path: str = "datasets"
              ) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(dataset id, custodian team id) for each requested dataset: public ones only, in the order given."""
    ids = list(dict.fromkeys(dataset_ids))
    if not ids:
        raise Invalid("choose at least one dataset", [FieldError(path, "choose at least one dataset")])
    if len(ids) > MAX_DATASETS:
        raise Invalid("too many datasets", [FieldError(path, f"at most {MAX_DATASETS} datasets")])
    found = {d.id: d for d in ctx.session.scalars(select(Dataset).where(Dataset.id.in_(ids)))}
    errors = [FieldError(f"{path}/{i}", f"no public dataset {d}") for i, d in enumerate(ids)
              if d not in found or found[d].status != DatasetStatus.ACTIVE]
    if errors:
        raise Invalid("some datasets cannot be requested", errors)
    return [(d, found[d].team_id) for d in ids]


def _project(ctx: Context, row: Application, state: lc.State, at: datetime) -> None:
    """Bring the projection rows in line with ``state`` (the fold of the log)."""
    row.title = state.title
    row.status = state.status.value
    row.answers = dict(state.answers)
    row.purpose = dict(state.purpose)
    row.templates = dict(state.templates)
    row.collaborators = sorted(str(c) for c in state.collaborators)
    row.updated_at = at
    if state.submitted and row.submitted_at is None:
        row.submitted_at = at
    s = ctx.session
    current = {(d.dataset_id, d.team_id) for d in s.scalars(
        select(ApplicationDataset).where(ApplicationDataset.application_id == row.id))}
    if current != set(state.datasets):
        s.execute(delete(ApplicationDataset).where(ApplicationDataset.application_id == row.id))
        s.add_all([ApplicationDataset(application_id=row.id, dataset_id=d, team_id=t, position=i)
                   for i, (d, t) in enumerate(state.datasets)])
    parts = {p.team_id: p for p in s.scalars(select(ApplicationPart).where(ApplicationPart.application_id == row.id))}
    for team, part in state.parts.items():
        p = parts.get(team)
        if p is None:
            p = ApplicationPart(application_id=row.id, team_id=team)
            s.add(p)
        p.state = part.state.value
        p.submitted_at = part.submitted_at
        p.returned_at = part.returned_at
        p.decided_at = part.decided_at
        p.reviewers = sorted(str(r) for r in part.reviewers)
        p.phase = part.phase
        p.phase_due = part.phase_due
        p.conditions = list(part.conditions)
        p.updated_at = at


def _append(ctx: Context, row: Application, state: lc.State, event_type: str, data: dict[str, Any],
            team_id: uuid.UUID | None) -> lc.State:
    """Append one event at ``state.version + 1``: a compare-and-set on the application's version, so of two
    commands that read the same version exactly one lands and the other gets 409."""
    at = ctx.now()
    seq = state.version + 1
    bumped = ctx.session.execute(update(Application).where(Application.id == row.id,
                                                           Application.version == state.version)
                                 .values(version=seq).execution_options(synchronize_session=False))
    if bumped.rowcount != 1:  # type: ignore[attr-defined]
        raise _stale(state.version)
    event = lc.Event(type=event_type, data=data, at=at, actor_id=ctx.actor.user_id, team_id=team_id)
    try:
        with ctx.session.begin_nested():
            ctx.session.add(ApplicationEvent(application_id=row.id, seq=seq, type=event_type, team_id=team_id,
                                             actor_id=ctx.actor.user_id, actor_name=ctx.actor.name, at=at,
                                             data=data))
    except IntegrityError:
        raise _stale(state.version) from None
    new = lc.apply(state, event)
    ctx.session.expire(row, ["version"])
    _project(ctx, row, new, at)
    audit.record(ctx, f"application.{event_type}", "application", row.id,
                 {"reference": row.reference, "seq": seq, **({"team_id": str(team_id)} if team_id else {})}, at=at)
    notify.application_event(ctx, row, new, event_type, data, team_id)
    register_feed.application_event(ctx, row, new, event_type, data, team_id)  # approvals draft register entries
    return new


def _stale(version: int) -> Conflict:
    return Conflict("someone else changed this application since you read it; reload and try again",
                    [FieldError("version", f"you read version {version}; the application has moved on")])


def _create(ctx: Context, datasets: list[tuple[uuid.UUID, uuid.UUID]], *, title: str = "", kind: str = "new",
            parent: lc.State | None = None, enquiry_id: uuid.UUID | None = None) -> Application:
    me = writer_id(ctx)
    at = ctx.now()
    teams = list(dict.fromkeys(t for _, t in datasets))
    data: dict[str, Any] = {
        "applicant_id": str(me), "kind": kind, "title": title.strip()[:500],
        "datasets": [[str(d), str(t)] for d, t in datasets],
        "templates": forms.pin_templates(ctx, teams),
    }
    if parent is not None:
        data |= {"parent_id": str(parent.id), "answers": dict(parent.answers), "purpose": dict(parent.purpose),
                 "title": data["title"] or parent.title}
    row = Application(id=uuid.uuid4(), reference=reference("DAR", at), applicant_id=me, title=data["title"],
                      kind=kind, parent_id=parent.id if parent else None, enquiry_id=enquiry_id,
                      status=lc.Status.DRAFT.value, version=1, created_at=at, updated_at=at)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.session.add(ApplicationEvent(application_id=row.id, seq=1, type="created", team_id=None, actor_id=me,
                                     actor_name=ctx.actor.name, at=at, data=data))
    state = lc.start(row.id, lc.Event(type="created", data=data, at=at, actor_id=me))
    _project(ctx, row, state, at)
    audit.record(ctx, "application.created", "application", row.id,
                 {"reference": row.reference, "kind": kind, "datasets": len(datasets)}, at=at)
    notify.application_event(ctx, row, state, "created", data, None)
    return row


def create(ctx: Context, dataset_ids: Sequence[uuid.UUID], *, title: str = "",
           enquiry_id: uuid.UUID | None = None) -> Application:
    """Start a draft application for public datasets, of one custodian or several."""
    writer_id(ctx)
    return _create(ctx, _datasets(ctx, dataset_ids), title=title, enquiry_id=enquiry_id)


def _reviewers_ok(ctx: Context, team_id: uuid.UUID, reviewers: Sequence[str]) -> None:
    roles = {Role.REVIEWER.value, Role.ACCESS_MANAGER.value, Role.TEAM_ADMIN.value}
    ids = [uuid.UUID(r) for r in reviewers]
    held = set(ctx.session.scalars(select(Membership.user_id).where(
        Membership.team_id == team_id, Membership.user_id.in_(ids), Membership.role.in_(roles))))
    bad = [FieldError(f"reviewers/{i}", "is not a reviewer or access manager of this team")
           for i, r in enumerate(ids) if r not in held]
    if bad:
        raise Invalid("reviewers must be reviewers of the custodian team", bad)


def run(ctx: Context, application_id: uuid.UUID, command: lc.Command | str,
        payload: Mapping[str, Any] | None = None, *, team_id: uuid.UUID | None = None,
        expected_version: int | None = None) -> View:
    """Run one command: checked against state x role (409 listing the allowed commands), validated (422
    naming the field), appended as one event (409 when ``expected_version`` is stale or another command
    landed first). Returns the application as the actor now sees it."""
    try:
        command = lc.Command(command)
    except ValueError:
        raise Invalid(f"unknown command {command!r}",
                      [FieldError("command", f"one of {', '.join(c.value for c in lc.Command)}")]) from None
    payload = payload or {}
    view = get(ctx, application_id)
    if command in lc.APPLICANT_COMMANDS:
        writer_id(ctx)  # the applicant's side: a person, acting in a way that may change things
    elif not ctx.actor.writes():  # a custodian's command may also come from an admin or the system
        raise Forbidden("a read-only token cannot change anything; use a write token")
    _nul_free(payload, "")
    row, state = view.row, view.state
    if expected_version is not None and expected_version != state.version:
        raise _stale(expected_version)
    try:
        event_type, data, team = lc.decide(state, _acting(ctx, view.relation), command, payload, team_id=team_id)
    except lc.NotAllowed as refused:
        raise Conflict(str(refused), [FieldError("command", a.command.value + (f" (part {a.team_id})"
                                                                                 if a.team_id else ""))
                                      for a in refused.allowed]) from None
    if command == lc.Command.SAVE:
        data = _save_data(ctx, state, payload)
    elif command == lc.Command.CHANGE_DATASETS:
        ids = _ids(payload.get("dataset_ids"), "dataset_ids")
        datasets = _datasets(ctx, ids, "dataset_ids")
        new_teams = [t for t in dict.fromkeys(t for _, t in datasets) if str(t) not in state.templates]
        data = {"datasets": [[str(d), str(t)] for d, t in datasets],
                "templates": forms.pin_templates(ctx, new_teams)}
    elif command in (lc.Command.SUBMIT, lc.Command.RESUBMIT):
        missing = forms.missing_answers(ctx, state)
        if missing:
            raise Invalid(f"{len(missing)} required answer(s) missing", missing)
        data["duo"] = duo.evaluate(ctx, state)  # on resubmission too: the purpose may have changed since
    elif command == lc.Command.ASSIGN_REVIEWERS:
        assert team is not None
        _reviewers_ok(ctx, team, data["reviewers"])
    elif command in (lc.Command.AMEND, lc.Command.RENEW):
        approved = {t for t, p in state.parts.items() if p.state in lc.APPROVED}
        kind = "amendment" if command == lc.Command.AMEND else "renewal"
        child = _create(ctx, [(d, t) for d, t in state.datasets if t in approved], kind=kind, parent=state,
                        title=str(payload.get("title") or ""))
        data = {"application_id": str(child.id)}
    new = _append(ctx, row, state, event_type, data, team)
    rel = relation(ctx, new)  # the application as the actor sees it now, without reading the log again
    return View(row=row, state=new, relation=rel, allowed=_allowed(ctx, new, rel),
                teams=readable_teams(ctx, new) | rel.reviewing)


def _nul_free(value: Any, path: str) -> None:
    """422 for a NUL character anywhere in a payload (PostgreSQL stores none, in text or JSON)."""
    if isinstance(value, str) and "\x00" in value:
        raise Invalid("text cannot contain NUL characters", [FieldError(path or "$", "contains a NUL character")])
    if isinstance(value, Mapping):
        for key, item in value.items():
            _nul_free(key, path)
            _nul_free(item, f"{path}/{key}".lstrip("/"))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _nul_free(item, f"{path}/{i}")


def _ids(raw: Any, path: str) -> list[uuid.UUID]:
    if not isinstance(raw, list):
        raise Invalid(f"{path} must be a list of ids", [FieldError(path, "a list of dataset ids")])
    out = []
    for i, v in enumerate(raw):
        try:
            out.append(v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)))
        except ValueError:
            raise Invalid(f"{path} must be a list of ids", [FieldError(f"{path}/{i}", "not an id")]) from None
    return out


def _save_data(ctx: Context, state: lc.State, payload: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if "title" in payload:
        title = payload["title"]
        if not isinstance(title, str) or len(title) > 500:
            raise Invalid("title must be text of at most 500 characters", [FieldError("title", "at most 500")])
        data["title"] = title.strip()
    if "answers" in payload:
        answers = payload["answers"]
        if not isinstance(answers, Mapping):
            raise Invalid("answers must be an object", [FieldError("answers", "question id -> answer")])
        kept, cleared = forms.clean_answers(ctx, state, answers)
        data["answers"] = kept
        if cleared:
            data["cleared"] = cleared
    if "purpose" in payload:
        purpose = payload["purpose"]
        if not isinstance(purpose, Mapping):
            raise Invalid("purpose must be an object", [FieldError("purpose", "the stated purpose")])
        data["purpose"] = duo.clean_purpose(purpose)
    if not data:
        raise Invalid("nothing to save", [FieldError("answers", "give answers, a purpose or a title")])
    return data


def rebuild(ctx: Context, application_id: uuid.UUID) -> lc.State:
    """Fold the log again and rewrite the projections from it (an operator's repair; tests compare)."""
    row = ctx.session.get(Application, application_id)
    if row is None:
        raise NotFound(f"no application {application_id}")
    state = load_state(ctx, application_id)
    _project(ctx, row, state, row.updated_at)
    return state
