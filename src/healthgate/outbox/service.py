"""Queue messages in the caller's transaction: they are sent only if the change that caused them commits.

Also what an operator may do with the outbox: count messages by status, list the dead ones, and send dead
messages again (an alliance admin's operation, recorded in the audit log).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.identity.permissions import Permission, require
from healthgate.outbox.models import OutboxMessage

_QUEUED = "healthgate.outbox.queued"
_wakers: set[threading.Event] = set()
_wakers_lock = threading.Lock()


def enqueue(ctx: Context, kind: str, payload: dict[str, Any]) -> OutboxMessage:
    now = ctx.now()
    row = OutboxMessage(kind=kind, payload=payload, status="pending", attempts=0, next_attempt_at=now,
                        created_at=now)
    ctx.session.add(row)
    ctx.session.info[_QUEUED] = True
    return row


def enqueue_email(ctx: Context, to: str, subject: str, body: str) -> OutboxMessage:
    """An email, delivered by the worker (``healthgate worker``, or in-process under ``healthgate serve``)."""
    return enqueue(ctx, "email", {"to": to, "subject": subject, "body": body})


# -- waking the in-process worker --------------------------------------------------------------------------
# A commit that queued a message wakes every worker running in this process (``healthgate serve``'s inline
# worker), so an email goes out at once instead of at the next poll. Workers in other processes poll.


def add_waker(wake: threading.Event) -> None:
    with _wakers_lock:
        _wakers.add(wake)


def remove_waker(wake: threading.Event) -> None:
    with _wakers_lock:
        _wakers.discard(wake)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_QUEUED, False):
        with _wakers_lock:
            wakers = list(_wakers)
        for wake in wakers:
            wake.set()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_QUEUED, None)


# -- operating the outbox ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counts:
    pending: int
    sent: int
    dead: int
    oldest_pending: datetime | None


def counts(ctx: Context) -> Counts:
    require(ctx.actor, Permission.OUTBOX_MANAGE)
    by_status = dict(ctx.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    oldest = ctx.session.scalar(select(func.min(OutboxMessage.created_at))
                                .where(OutboxMessage.status == "pending"))
    return Counts(by_status.get("pending", 0), by_status.get("sent", 0), by_status.get("dead", 0), oldest)


def dead_messages(ctx: Context, limit: int = 100) -> list[OutboxMessage]:
    require(ctx.actor, Permission.OUTBOX_MANAGE)
    return list(ctx.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "dead")
                                    .order_by(OutboxMessage.id).limit(limit)))


def retry_dead(ctx: Context, ids: list[int] | None = None) -> list[int]:
    """Make dead messages (those in ``ids``, or every dead one when ``ids`` is None) pending again with a
    fresh count of attempts; returns the ids made pending. An id that is not a dead message is refused."""
    require(ctx.actor, Permission.OUTBOX_MANAGE)
    query = select(OutboxMessage.id).where(OutboxMessage.status == "dead")
    if ids is not None:
        found = set(ctx.session.scalars(query.where(OutboxMessage.id.in_(ids))))
        missing = [i for i in ids if i not in found]
        if missing:
            raise Invalid("only dead messages can be sent again",
                          [FieldError(f"id {i}", "no dead outbox message with this id") for i in missing])
        chosen = sorted(found)
    else:
        chosen = list(ctx.session.scalars(query.order_by(OutboxMessage.id)))
    if not chosen:
        return []
    now = ctx.now()
    ctx.session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(chosen), OutboxMessage.status == "dead")
        .values(status="pending", attempts=0, next_attempt_at=now, claimed_by=None, claimed_until=None),
        execution_options={"synchronize_session": False})
    for message_id in chosen:
        audit.record(ctx, "outbox.retried", "outbox_message", message_id, {"status": ["dead", "pending"]}, at=now)
    ctx.session.info[_QUEUED] = True
    return chosen
