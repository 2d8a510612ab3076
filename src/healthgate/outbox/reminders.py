"""What every domain's email reminders share (access reminders, alliance obligation reminders): a reminder is
sent once, by inserting a row whose unique key names it in the same savepoint as its queued emails and audit
event; a run is one transaction of its own (rolled back for a dry run); and the worker runs it periodically
(``outbox.periodic``).

A domain writes ``send_due(ctx, base_url, *, dry_run=False)``, which finds what is due and calls ``send_once``
for each, and then declares ``run`` and ``PERIODIC`` with ``run_in_transaction`` and ``job``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from healthgate.audit import service as audit
from healthgate.clock import Clock, SystemClock
from healthgate.context import Context
from healthgate.db import transaction
from healthgate.identity.permissions import SYSTEM
from healthgate.outbox.periodic import Job
from healthgate.outbox.service import enqueue_email


class Result(Protocol):
    @property
    def total(self) -> int: ...  # reminders sent


R = TypeVar("R", bound=Result)


def send_once(ctx: Context, row: object, to: Sequence[str], subject: str, body: str, *, action: str,
              subject_kind: str, subject_id: uuid.UUID, details: dict[str, Any]) -> bool:
    """Insert the reminder's ``row`` and queue its emails together, audited; False when another run sent it
    first (the row's unique key is taken)."""
    try:
        with ctx.session.begin_nested():
            ctx.session.add(row)
            ctx.session.flush()
            for address in to:
                enqueue_email(ctx, address, subject, body)
            audit.record(ctx, action, subject_kind, subject_id, details)
    except IntegrityError:
        return False
    return True


def run_in_transaction(send_due: Callable[..., R], sessions: sessionmaker[Session], clock: Clock | None,
                       base_url: str, *, dry_run: bool) -> R:
    """One run of ``send_due`` as the system, in a transaction of its own (committed unless ``dry_run``)."""
    with transaction(sessions) as session:
        result = send_due(Context(session, SYSTEM, clock or SystemClock()), base_url, dry_run=dry_run)
        if dry_run:
            session.rollback()
    return result


def job(name: str, every: float, run: Callable[[sessionmaker[Session], Clock, str], Result]) -> Job:
    """The worker's periodic job for a domain's ``run``, with links on the configured base URL."""

    def periodic(sessions: sessionmaker[Session], clock: Clock) -> str | None:
        from healthgate.config import Settings

        result = run(sessions, clock, Settings().base_url)
        return f"sent {result.total}" if result.total else None

    return Job(name, every, periodic)
