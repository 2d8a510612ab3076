"""The worker: claims due outbox messages, delivers them, and records what happened.

A claim is one UPDATE that takes a batch of due messages and stamps them with this worker's name and a lease
(``claimed_until``). On PostgreSQL the batch is chosen with ``FOR UPDATE SKIP LOCKED``, so concurrent workers
take disjoint batches without waiting for each other; on SQLite the single UPDATE holds the database's write
lock from its first read, so claimers go one at a time. A worker owns a message only while its lease runs:
before each send it renews the lease of what is left of its batch once less than half the lease remains, and
every outcome is written only ``WHERE claimed_by = <this worker>``. Outcomes are recorded together, one
transaction per batch (or per second), not one commit per message. A worker that crashes leaves leases that run
out; another worker then claims those messages again, so a message is never lost. Two workers never send one
message twice; a message goes out twice only if its worker is killed between sending it and recording it, or
spends longer than the whole lease on one send (the lease is at least 8 SMTP time-outs). See docs/outbox.md.

Each claim counts an attempt. A failure the sender calls transient is retried after an exponential backoff
(30 s, 1 min, 2 min, ... up to 1 hour); after ``max_attempts`` attempts, or at once for a permanent failure,
the message is ``dead`` and keeps its last error. A sent message keeps the name of the worker that sent it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from healthgate.clock import Clock, SystemClock
from healthgate.config import Settings
from healthgate.db import transaction
from healthgate.outbox import service
from healthgate.outbox.models import OutboxMessage
from healthgate.outbox.senders import (
    Email,
    PermanentFailure,
    Sender,
    TransientFailure,
    WebhookSender,
    resolved,
)

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 2000
RECORD_EVERY = 1.0  # seconds: the longest a sent message waits to be recorded as sent


@dataclass(frozen=True, slots=True)
class Policy:
    """How many messages a claim takes, how long a claim lasts, how often and how late to retry."""

    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = 20

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: base, 2 x base, 4 x base, ... capped."""
        return min(self.backoff_base * (2 ** max(0, min(attempts - 1, 30))), self.backoff_max)


def policy_from_settings(settings: Settings, **overrides: Any) -> Policy:
    """The policy the settings ask for. The lease is comfortably longer than the slowest single send (SMTP
    connect, TLS, login and data, each bounded by the time-out), so a slow send never lets a second worker
    take the message."""
    lease = max(timedelta(minutes=5), timedelta(seconds=settings.smtp_timeout_seconds * 8))
    return Policy(**{"max_attempts": settings.outbox_max_attempts, "lease": lease, **overrides})


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message this worker holds a lease on; ``attempts`` counts this attempt."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


@dataclass
class Tally:
    """What a run did: messages sent, scheduled for retry, dead, and lost to another worker (a lease that ran
    out mid-batch)."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0
    claimed: int = 0

    def add(self, other: Tally) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.lost += other.lost
        self.claimed += other.claimed


Handler = Callable[[Claimed], None]


def worker_name() -> str:
    """Unique per process and run: host, process id and a random suffix (a restarted worker never mistakes
    its predecessor's claims for its own)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    message: Claimed
    kind: str  # sent, retried, dead
    values: dict[str, Any]


@dataclass
class Batch:
    """Messages one claim took, and until when this worker holds them."""

    messages: list[Claimed]
    lease_until: datetime
    tally: Tally = field(default_factory=Tally)
    lost: set[int] = field(default_factory=set)


class Worker:
    """Delivers outbox messages. ``handlers`` maps a message kind to the function that delivers it (email:
    the sender; webhook: ``webhooks``, a signed POST); a kind without a handler is dead at once. ``base_url``
    resolves the links of templated payloads (``senders.resolved``)."""

    def __init__(self, sessions: sessionmaker[Session], sender: Sender, *, clock: Clock | None = None,
                 policy: Policy | None = None, name: str | None = None,
                 handlers: dict[str, Handler] | None = None, webhooks: WebhookSender | None = None,
                 base_url: str | None = None):
        self.sessions = sessions
        self.sender = sender
        self.clock = clock or SystemClock()
        self.policy = policy or Policy()
        self.name = (name or worker_name())[:100]
        self.webhooks = webhooks
        self.base_url = base_url or str(Settings.model_fields["base_url"].default)
        self.handlers: dict[str, Handler] = {"email": self._send_email, "webhook": self._send_webhook,
                                             **(handlers or {})}
        self._wake = threading.Event()

    # -- delivering ------------------------------------------------------------------------------------------

    def _send_email(self, message: Claimed) -> None:
        self.sender.send(Email.from_payload(message.id, message.created_at, resolved(message.payload, self.base_url)))

    def _send_webhook(self, message: Claimed) -> None:
        """POST a custodian's webhook, signed with its secret as it is now (read here, never copied into the
        outbox); a webhook deleted or disabled since is a permanent failure."""
        from healthgate.access import webhooks  # the access domain owns webhooks; the outbox only delivers

        payload = resolved(message.payload, self.base_url)
        with transaction(self.sessions) as session:
            target = webhooks.target(session, payload.get("webhook_id"))
        if target is None:
            raise PermanentFailure("the webhook was deleted or disabled before this delivery")
        if self.webhooks is None:
            self.webhooks = WebhookSender()
        body = json.dumps(payload.get("body"), separators=(",", ":"), ensure_ascii=False).encode()
        self.webhooks.send(target.url, target.secret, event_id=str(payload.get("event_id")),
                           event=str(payload.get("event")), body=body, timestamp=int(self.clock.now().timestamp()))

    def claim(self, limit: int | None = None) -> list[Claimed]:
        """Take up to ``limit`` due messages (oldest due first), in a transaction of their own."""
        now = self.clock.now()
        due = (select(OutboxMessage.id)
               .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
                      or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now))
               .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
               .limit(limit or self.policy.batch_size)
               .with_for_update(skip_locked=True))  # PostgreSQL; SQLite's UPDATE already holds the write lock
        stmt = (update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()))
                .values(claimed_by=self.name, claimed_until=now + self.policy.lease,
                        attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.payload, OutboxMessage.attempts,
                           OutboxMessage.created_at))
        with transaction(self.sessions) as session:
            rows = session.execute(stmt, execution_options={"synchronize_session": False}).all()
        return sorted((Claimed(*row) for row in rows), key=lambda m: m.id)

    def has_due(self) -> bool:
        """Whether any message is due (a plain read: an idle worker does not take the write lock to find out)."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            return session.scalar(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
                       or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now))
                .limit(1)) is not None

    def claim_batch(self) -> Batch:
        lease_until = self.clock.now() + self.policy.lease
        claimed = self.claim()
        batch = Batch(claimed, lease_until)
        batch.tally.claimed = len(claimed)
        return batch

    def run_once(self, stop: threading.Event | None = None) -> Tally:
        """Claim one batch and deliver it."""
        return self.deliver(self.claim_batch(), stop)

    def deliver(self, batch: Batch, stop: threading.Event | None = None) -> Tally:
        """Deliver a claimed batch, message by message. Outcomes are recorded together, in one transaction,
        at the end of the batch (or after ``RECORD_EVERY`` seconds, or before the lease is renewed), which
        spares a commit per message; what is left when ``stop`` is set is given back."""
        claimed = batch.messages
        outcomes: list[_Outcome] = []
        since = time.monotonic()
        try:
            for i, message in enumerate(claimed):
                if stop is not None and stop.is_set():
                    self._record(outcomes, batch.tally)
                    self.release([m.id for m in claimed[i:] if m.id not in batch.lost])
                    break
                if self._lease_low(batch):
                    self._record(outcomes, batch.tally)
                    self._renew(batch, [m.id for m in claimed[i:]])
                if message.id in batch.lost:
                    continue
                outcomes.append(self._deliver(message))
                if time.monotonic() - since >= RECORD_EVERY:
                    self._record(outcomes, batch.tally)
                    since = time.monotonic()
        finally:
            self._record(outcomes, batch.tally)
        return batch.tally

    def drain(self, stop: threading.Event | None = None) -> Tally:
        """Deliver everything that is due now, then return."""
        total = Tally()
        try:
            while stop is None or not stop.is_set():
                tally = self.run_once(stop)
                total.add(tally)
                if tally.claimed == 0:
                    break
        finally:
            self.sender.close()
        return total

    def run(self, stop: threading.Event, poll_seconds: float = 1.0,
            on_error: Callable[[BaseException], None] | None = None) -> Tally:
        """Deliver until ``stop`` is set: drain what is due, then sleep ``poll_seconds`` (or until woken by a
        commit that queued a message in this process). A database error is logged and retried with backoff;
        it never ends the loop."""
        from healthgate.outbox.periodic import Periodic  # the domains' periodic jobs

        periodic = Periodic()
        total = Tally()
        failures = 0
        service.add_waker(self._wake)
        try:
            while not stop.is_set():
                try:
                    if self.has_due():
                        total.add(self.drain(stop))
                    periodic.tick(self.sessions, self.clock)
                    failures = 0
                    wait = poll_seconds
                except Exception as exc:  # noqa: BLE001 -- a worker survives a database outage
                    failures += 1
                    wait = min(poll_seconds * 2 ** min(failures, 6), 60.0)
                    log.warning("outbox worker %s: %s: %s (retrying in %.0f s)", self.name, type(exc).__name__,
                                exc, wait)
                    self.sender.close()
                    if on_error is not None:
                        on_error(exc)
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            service.remove_waker(self._wake)
            self.sender.close()
        return total

    def wake(self) -> None:
        self._wake.set()

    # -- leases and outcomes ---------------------------------------------------------------------------------

    def _lease_low(self, batch: Batch) -> bool:
        return batch.lease_until - self.clock.now() <= self.policy.lease / 2

    def _renew(self, batch: Batch, rest: list[int]) -> None:
        """Renew the lease on the rest of the batch; what is no longer ours (the lease ran out and another
        worker took it) is marked lost and not sent."""
        ids = [i for i in rest if i not in batch.lost]
        until = self.clock.now() + self.policy.lease
        with transaction(self.sessions) as session:
            kept = set(session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == self.name,
                       OutboxMessage.status == "pending")
                .values(claimed_until=until)
                .returning(OutboxMessage.id),
                execution_options={"synchronize_session": False}).all())
        batch.lease_until = until
        lost = [i for i in ids if i not in kept]
        if lost:
            log.warning("outbox worker %s: lease ran out on messages %s; another worker has them", self.name, lost)
            batch.tally.lost += len(lost)
            batch.lost.update(lost)

    def _deliver(self, message: Claimed) -> _Outcome:
        if message.attempts > self.policy.max_attempts:
            # its last attempt's worker stopped before saying how it went
            return self._outcome(message, dead=True, error="the worker delivering its last attempt stopped "
                                 "before finishing (lease ran out)")
        handler = self.handlers.get(message.kind)
        try:
            if handler is None:
                raise PermanentFailure(f"no handler for messages of kind {message.kind!r}")
            handler(message)
        except PermanentFailure as exc:
            return self._outcome(message, dead=True, error=str(exc))
        except TransientFailure as exc:
            return self._outcome(message, dead=False, error=str(exc))
        except Exception as exc:  # a bug in one handler must not stop delivery of the others
            log.exception("outbox worker %s: message %d: unexpected error", self.name, message.id)
            return self._outcome(message, dead=False, error=f"unexpected error: {type(exc).__name__}: {exc}")
        return self._outcome(message)

    def _outcome(self, message: Claimed, *, dead: bool = False, error: str | None = None) -> _Outcome:
        now = self.clock.now()
        if error is None:
            return _Outcome(message, "sent", {"status": "sent", "sent_at": now, "claimed_until": None})
        if dead or message.attempts >= self.policy.max_attempts:
            return _Outcome(message, "dead", {"status": "dead", "claimed_until": None,
                                              "last_error": error[:MAX_ERROR_CHARS]})
        return _Outcome(message, "retried", {"claimed_until": None, "last_error": error[:MAX_ERROR_CHARS],
                                             "next_attempt_at": now + self.policy.backoff(message.attempts)})

    def _record(self, outcomes: list[_Outcome], tally: Tally) -> None:
        """Write outcomes in one transaction, each only if the message is still this worker's; empties the
        list."""
        if not outcomes:
            return
        with transaction(self.sessions) as session:
            done = [session.scalar(
                update(OutboxMessage)
                .where(OutboxMessage.id == o.message.id, OutboxMessage.claimed_by == self.name,
                       OutboxMessage.status == "pending")
                .values(**o.values)
                .returning(OutboxMessage.id),
                execution_options={"synchronize_session": False}) is not None for o in outcomes]
        for o, ok in zip(outcomes, done, strict=True):
            m = o.message
            if not ok:
                log.warning("outbox worker %s: message %d was taken by another worker before its outcome (%s) "
                            "was recorded", self.name, m.id, o.kind)
                tally.lost += 1
                continue
            setattr(tally, o.kind, getattr(tally, o.kind) + 1)
            if o.kind == "sent":
                log.debug("outbox message %d sent", m.id)
            else:
                log.warning("outbox message %d (%s) attempt %d failed%s: %s", m.id, m.kind, m.attempts,
                            " -- dead" if o.kind == "dead" else
                            f"; retrying after {o.values['next_attempt_at']:%Y-%m-%d %H:%M:%S}",
                            o.values["last_error"])
        outcomes.clear()

    def release(self, ids: Iterable[int]) -> None:
        """Give back claimed messages not yet attempted (stopping): they are due again at once, for anyone."""
        ids = list(ids)
        if not ids:
            return
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == self.name,
                       OutboxMessage.status == "pending")
                .values(claimed_by=None, claimed_until=None, attempts=OutboxMessage.attempts - 1),
                execution_options={"synchronize_session": False})
