"""Reminders about members' obligations, by email through the outbox, to the team admins of the member's
teams: once when an obligation is due soon and once when it is overdue (``alliance.obligations`` decides).

A reminder is sent only if inserting its row into ``alliance_reminders`` (unique on member, obligation, due
date and stage) succeeds, in the same savepoint as the queued emails: running this any number of times, from
the worker (``healthgate worker``, periodically) or the CLI (``healthgate alliance reminders``), by any number
of processes at once, sends each reminder once. A recurring obligation (the register, every quarter) has a new
due date each quarter, hence new reminders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from healthgate.alliance import obligations as ob
from healthgate.alliance.models import ObligationReminder
from healthgate.clock import Clock
from healthgate.context import Context
from healthgate.identity.models import Membership, User
from healthgate.identity.permissions import Permission, Role, require
from healthgate.outbox import reminders as reminding

EVERY_SECONDS = 6 * 60 * 60  # obligations move by days: four looks a day are plenty
RECIPIENT_ROLES = (Role.TEAM_ADMIN.value,)
STAGES = {ob.DUE_SOON: "due-soon", ob.OVERDUE: "overdue"}


@dataclass
class Sent:
    """What one run did: reminders sent (by stage), already sent before, and due but with nobody to tell."""

    sent: dict[str, int] = field(default_factory=dict)
    already: int = 0
    nobody: int = 0
    items: list[str] = field(default_factory=list)  # "organisation: obligation (stage, due date)"

    @property
    def total(self) -> int:
        return sum(self.sent.values())


@dataclass(frozen=True)
class _Due:
    member_id: uuid.UUID
    obligation: str
    due_on: date
    stage: str
    to: list[str]
    subject: str
    body: str
    label: str


def _fmt(d: date | None) -> str:
    return d.strftime("%d %B %Y").lstrip("0") if d else ""


def _admins(ctx: Context, team_ids: Sequence[uuid.UUID]) -> list[str]:
    if not team_ids:
        return []
    return sorted({u.email for u in ctx.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id.in_(list(team_ids)), Membership.role.in_(RECIPIENT_ROLES)))
        if u.disabled_at is None})


_WHAT = {
    ob.DISCOVERABLE: "publish at least one dataset's metadata in the gateway's catalogue, so that it is discoverable",
    ob.ACCESS: ("receive data access requests through the gateway (a dataset of yours must be public for "
                "researchers to request it)"),
    ob.REGISTER: ("update its data use register (publish, change or upload entries) at least once every "
                  "quarter"),
}


def _due(ctx: Context, base_url: str) -> tuple[list[_Due], int]:
    board = ob.board(ctx)
    out: list[_Due] = []
    nobody = 0
    for m in board.members:
        for o in m.obligations:
            stage = STAGES.get(o.status)
            if stage is None or o.due_on is None:
                continue
            to = _admins(ctx, [t.id for t in m.teams])
            if not to:
                nobody += 1
                continue
            what = _WHAT[o.key]
            when = f"was due on {_fmt(o.due_on)}" if stage == "overdue" else f"is due on {_fmt(o.due_on)}"
            teams = ", ".join(f"{base_url}/workspace/teams/{t.slug}" for t in m.teams)
            out.append(_Due(
                member_id=m.member.id, obligation=o.key, due_on=o.due_on, stage=stage, to=to,
                subject=f"Reminder: {m.organisation.name}: {o.label.lower()} "
                        f"{'is overdue' if stage == 'overdue' else 'is due soon'}",
                body=(f"{m.organisation.name} joined the alliance on {_fmt(m.member.join_date)}. As a member, it "
                      f"agreed to {what}.\n\nThis obligation ({o.label.lower()}) {when}"
                      f"{': ' + o.note if o.note else ''}.\n\nYour team's workspace: {teams}\n"),
                label=f"{m.organisation.name}: {o.key} ({stage}, due {o.due_on.isoformat()})"))
    return out, nobody


def send_due(ctx: Context, base_url: str = "http://127.0.0.1:8000", *, dry_run: bool = False) -> Sent:
    """Queue every obligation reminder that is due and not sent before (the system, the CLI, an alliance
    admin). ``dry_run``: say what would be sent, send nothing."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    due, nobody = _due(ctx, base_url.rstrip("/"))
    result = Sent(nobody=nobody)
    if not due:
        return result
    known = {(r.member_id, r.obligation, r.due_on, r.stage) for r in ctx.session.scalars(
        select(ObligationReminder).where(ObligationReminder.member_id.in_(list({d.member_id for d in due}))))}
    for d in due:
        if (d.member_id, d.obligation, d.due_on, d.stage) in known or (not dry_run and not _send(ctx, d)):
            result.already += 1
            continue
        result.sent[d.stage] = result.sent.get(d.stage, 0) + 1
        result.items.append(d.label)
    return result


def _send(ctx: Context, d: _Due) -> bool:
    """Insert the reminder's row and queue its emails together; False when another run sent it first."""
    row = ObligationReminder(id=uuid.uuid4(), member_id=d.member_id, obligation=d.obligation, due_on=d.due_on,
                             stage=d.stage, sent_at=ctx.now())
    return reminding.send_once(ctx, row, d.to, d.subject, d.body, action="alliance.reminder_sent",
                               subject_kind="alliance_member", subject_id=d.member_id,
                               details={"obligation": d.obligation, "stage": d.stage,
                                        "due_on": d.due_on.isoformat(), "recipients": len(d.to)})


def run(sessions: sessionmaker[Session], clock: Clock | None = None, base_url: str = "http://127.0.0.1:8000",
        *, dry_run: bool = False) -> Sent:
    """One run in a transaction of its own (committed unless ``dry_run``)."""
    return reminding.run_in_transaction(send_due, sessions, clock, base_url, dry_run=dry_run)


# run from the worker's loop (outbox.periodic)
PERIODIC = [reminding.job("alliance obligation reminders", EVERY_SECONDS, run)]
