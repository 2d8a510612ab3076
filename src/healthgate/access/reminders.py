"""Reminders by email, through the outbox: review phases near or past their due date (to the part's assigned
reviewers) and parts due soon or overdue against the alliance's standard (to the team's access managers).

Each reminder has a key (what it is about, and which threshold: ``phase:<app>:<team>:<phase>:<due>:overdue``,
``clock:<app>:<team>:<step>:due_soon``); a reminder is sent only if inserting its key into ``access_reminders``
succeeds, in the same savepoint as the queued email, so running this any number of times, from the worker
(``healthgate worker``, periodically) or the CLI (``healthgate access reminders``), by any number of processes
at once, sends each reminder once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from healthgate.access import clocks, standards
from healthgate.access import lifecycle as lc
from healthgate.access.models import Application, ApplicationEvent, ApplicationPart, Reminder
from healthgate.clock import Clock
from healthgate.context import Context
from healthgate.identity.models import Membership, Team, User
from healthgate.identity.permissions import Permission, Role, require
from healthgate.outbox import reminders as reminding

log = logging.getLogger(__name__)
PHASE_DUE_SOON_DAYS = 2  # a review phase is "due soon" this many working days (or fewer) before its due date
EVERY_SECONDS = 15 * 60  # how often the worker looks for reminders to send
MANAGER_ROLES = (Role.ACCESS_MANAGER.value,)
FALLBACK_ROLES = (Role.TEAM_ADMIN.value,)  # a team without access managers: its team admins


@dataclass
class Sent:
    """What one run did: reminders sent (by kind) and reminders already sent before (skipped)."""

    sent: dict[str, int] = field(default_factory=dict)
    already: int = 0
    keys: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.sent.values())


@dataclass(frozen=True)
class _Due:
    key: str
    kind: str  # phase_due_soon | phase_overdue | clock_due_soon | clock_overdue
    application: Application
    team: Team
    to: list[str]
    subject: str
    body: str


def _fmt(d: date | None) -> str:
    return d.strftime("%d %B %Y").lstrip("0") if d else ""


def _emails(ctx: Context, ids: Sequence[uuid.UUID]) -> list[str]:
    if not ids:
        return []
    return sorted({u.email for u in ctx.session.scalars(select(User).where(User.id.in_(list(ids))))
                   if u.disabled_at is None})


def _managers(ctx: Context, team_id: uuid.UUID) -> list[str]:
    for roles in (MANAGER_ROLES, FALLBACK_ROLES):
        ids = list(ctx.session.scalars(select(Membership.user_id).where(
            Membership.team_id == team_id, Membership.role.in_(roles))))
        found = _emails(ctx, ids)
        if found:
            return found
    return []


def _reviewed_this_phase(ctx: Context, application_ids: Sequence[uuid.UUID]
                         ) -> dict[tuple[uuid.UUID, uuid.UUID | None], set[uuid.UUID]]:
    """(application, team) -> the reviewers who already gave their review since reviewers were last assigned
    (they need no reminder)."""
    if not application_ids:
        return {}
    E = ApplicationEvent
    out: dict[tuple[uuid.UUID, uuid.UUID | None], set[uuid.UUID]] = {}
    for app_id, team_id, type_, actor in ctx.session.execute(
            select(E.application_id, E.team_id, E.type, E.actor_id)
            .where(E.application_id.in_(list(application_ids)), E.type.in_(("reviewers_assigned", "reviewed")))
            .order_by(E.application_id, E.seq)):
        key = (app_id, team_id)
        if type_ == "reviewers_assigned":
            out[key] = set()
        elif actor is not None:
            out.setdefault(key, set()).add(actor)
    return out


def _phase_reminders(ctx: Context, base_url: str) -> list[_Due]:
    today = clocks.london_date(ctx.now())
    out = []
    rows = ctx.session.execute(
        select(Application, ApplicationPart, Team)
        .join(ApplicationPart, ApplicationPart.application_id == Application.id)
        .join(Team, Team.id == ApplicationPart.team_id)
        .where(ApplicationPart.state == lc.PartState.IN_REVIEW.value, ApplicationPart.phase_due.is_not(None))
        .order_by(ApplicationPart.phase_due)).all()
    nations = standards.nations(ctx, list({p.team_id for _, p, _ in rows}))
    done = _reviewed_this_phase(ctx, [a.id for a, _, _ in rows])
    for app, part, team in rows:
        due = part.phase_due
        assert due is not None
        if today > due:
            kind, when = "phase_overdue", f"was due on {_fmt(due)}"
        elif clocks.working_days(today, due, nations[team.id]) <= PHASE_DUE_SOON_DAYS:
            kind, when = "phase_due_soon", f"is due on {_fmt(due)}"
        else:
            continue
        waiting = [uuid.UUID(r) for r in part.reviewers or []]
        to = _emails(ctx, [r for r in waiting if r not in done.get((app.id, team.id), set())])
        if not to:
            continue
        phase = part.phase or "review"
        out.append(_Due(
            key=f"phase:{app.id}:{team.id}:{phase}:{due.isoformat()}:{kind.removeprefix('phase_')}"[:300],
            kind=kind, application=app, team=team, to=to,
            subject=f"Reminder: your {phase} of {app.reference} {when}",
            body=(f"You are a reviewer of {team.name}'s part of the data access request {app.reference}"
                  f"{' (' + app.title + ')' if app.title else ''}.\n\nIts {phase} phase {when}.\n\n"
                  f"Open your team's access requests: {base_url}/workspace/teams/{team.slug}/access/dashboard\n")))
    return out


def _clock_reminders(ctx: Context, base_url: str) -> list[_Due]:
    open_states = [s.value for s in lc.OPEN]
    rows = ctx.session.execute(
        select(Application, ApplicationPart, Team)
        .join(ApplicationPart, ApplicationPart.application_id == Application.id)
        .join(Team, Team.id == ApplicationPart.team_id)
        .where(ApplicationPart.state.in_(open_states))
        .order_by(ApplicationPart.team_id, ApplicationPart.submitted_at)).all()
    by_team: dict[uuid.UUID, list[tuple[Application, Team]]] = {}
    for app, part, team in rows:
        by_team.setdefault(part.team_id, []).append((app, team))
    out = []
    for team_id, items in by_team.items():
        clock_of = clocks.team_clocks(ctx, team_id, [a.id for a, _ in items])
        managers: list[str] | None = None
        for app, team in items:
            c = clock_of.get(app.id)
            if c is None or not c.flag or c.paused:
                continue
            if managers is None:
                managers = _managers(ctx, team_id)
            if not managers:
                break
            step = "a first response" if c.step == "first_response" else "a decision"
            state = (f"is overdue: {c.working_days} working days against a standard of {c.standard}"
                     if c.flag == "overdue" else
                     f"is due soon: {c.working_days} of {c.standard} working days, due on {_fmt(c.due_on)}")
            out.append(_Due(
                key=f"clock:{app.id}:{team_id}:{c.step}:{c.flag}", kind=f"clock_{c.flag}", application=app,
                team=team, to=managers,
                subject=f"Reminder: {app.reference} {'is overdue' if c.flag == 'overdue' else 'is due soon'} "
                        f"for {step}",
                body=(f"The data access request {app.reference}{' (' + app.title + ')' if app.title else ''} "
                      f"to {team.name} {state} for {step}.\n\n"
                      f"Open the dashboard: {base_url}/workspace/teams/{team.slug}/access/dashboard\n")))
    return out


def send_due(ctx: Context, base_url: str = "http://127.0.0.1:8000", *, dry_run: bool = False) -> Sent:
    """Queue every reminder that is due and not sent before (the system's operation: the worker, the CLI, an
    alliance admin). ``dry_run``: say what would be sent, send nothing."""
    require(ctx.actor, Permission.ACCESS_CONFIGURE)
    base = base_url.rstrip("/")
    result = Sent()
    due = _phase_reminders(ctx, base) + _clock_reminders(ctx, base)
    if not due:
        return result
    known = set(ctx.session.scalars(select(Reminder.key).where(Reminder.key.in_([d.key for d in due]))))
    for d in due:
        if d.key in known:
            result.already += 1
            continue
        if not dry_run and not _send(ctx, d):
            result.already += 1
            continue
        result.sent[d.kind] = result.sent.get(d.kind, 0) + 1
        result.keys.append(d.key)
    return result


def _send(ctx: Context, d: _Due) -> bool:
    """Insert the key and queue the email together; False when another run sent it first."""
    row = Reminder(key=d.key, application_id=d.application.id, team_id=d.team.id, kind=d.kind, sent_at=ctx.now())
    return reminding.send_once(ctx, row, d.to, d.subject, d.body, action="access.reminder_sent",
                               subject_kind="application", subject_id=d.application.id,
                               details={"kind": d.kind, "team_id": str(d.team.id), "recipients": len(d.to)})


def run(sessions: sessionmaker[Session], clock: Clock | None = None, base_url: str = "http://127.0.0.1:8000",
        *, dry_run: bool = False) -> Sent:
    """One run in a transaction of its own (committed unless ``dry_run``)."""
    return reminding.run_in_transaction(send_due, sessions, clock, base_url, dry_run=dry_run)


# run from the worker's loop (outbox.periodic)
PERIODIC = [reminding.job("access reminders", EVERY_SECONDS, run)]
