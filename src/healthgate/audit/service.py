"""Record audit events and read them back. Every service operation that changes state calls ``record`` (or
``record_new_many`` for a bulk import) in the caller's transaction.

An event is inserted at once, unchained; just before the transaction commits, its events are numbered and
hashed after the chain's head and the head is moved (``chain_pending``), under the head's lock (a row lock on
PostgreSQL, the write lock on SQLite). Concurrent writers queue on the head only for that moment, so the
chain has one order and no forks, and a long import does not hold up everyone else's sign-in."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, event, func, insert, select, update
from sqlalchemy.orm import Session, SessionTransaction

from healthgate.audit import actions, chain, keys
from healthgate.audit.models import AuditEvent, AuditHead
from healthgate.context import Context
from healthgate.identity.permissions import Actor, Permission, require

_EVENTS = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditHead.__table__)
HEAD_ID = 1

# Keys that name a secret, and values that look like one: never written to the log.
SECRET_KEYS = frozenset({
    "password", "new_password", "old_password", "password_hash", "secret", "secret_key", "client_secret",
    "token", "token_hash", "api_token", "access_token", "refresh_token", "id_token", "session", "session_id",
    "cookie", "csrf_token", "code", "code_verifier", "nonce", "state",
})
_SECRET_VALUE = re.compile(r"^(hg_[A-Za-z0-9_-]{16,}|\$argon2(id|i|d)\$)")


class SecretInAuditData(ValueError):
    """A programming error: audit data carried something that looks like a password, token or session id."""


def _refuse_secrets(value: Any, path: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if str(k).lower() in SECRET_KEYS and v not in (None, "", [], {}):
                raise SecretInAuditData(f"audit data may not hold secrets ({path}.{k})")
            _refuse_secrets(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_secrets(v, f"{path}[{i}]")
    elif isinstance(value, str) and _SECRET_VALUE.match(value):
        raise SecretInAuditData(f"audit data may not hold secrets ({path} looks like a token or password hash)")


def _row(actor: Actor, action: str, subject_type: str, subject_id: object, data: dict[str, Any],
         at: datetime) -> dict[str, Any]:
    return {"at": at, "actor_id": actor.user_id, "actor": actor.name[:300], "token_id": actor.token_id,
            "action": action, "subject_type": subject_type, "subject_id": str(subject_id), "data": data}


PENDING = "healthgate.audit.pending"  # session.info: {event id: row} appended in this transaction, not chained yet


def _append(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` now (so the transaction reads them back, and a rolled-back savepoint takes them with
    it); they join the chain when the transaction commits (``chain_pending``)."""
    for row in rows:
        row.update(seq=None, prev_hash=None, hash=None)
    ids = session.connection().execute(
        insert(_EVENTS).returning(_EVENTS.c.id, sort_by_parameter_order=True), rows).scalars().all()
    pending = session.info.setdefault(PENDING, {})
    for event_id, row in zip(ids, rows, strict=True):
        pending[event_id] = row


def chain_pending(session: Session) -> int:
    """Chain the events this transaction appended, after the head, and move the head: called just before the
    transaction commits, so the head is locked only for that moment (and is every writer's last lock, so
    it cannot deadlock). Returns how many events were chained."""
    pending: dict[int, dict[str, Any]] | None = session.info.pop(PENDING, None)
    if not pending:
        return 0
    conn = session.connection()
    key = keys.for_connection(conn)
    # The UPDATE takes the head's lock (PostgreSQL: the row; SQLite: the database write lock) before the read,
    # so that two writers never read the same head.
    locked = conn.execute(update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(seq=_HEAD.c.seq))
    head = conn.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID)).one_or_none()
    if locked.rowcount != 1 or head is None:
        raise RuntimeError("the audit log's head row is missing; run `healthgate audit verify`")
    # Still there (not undone with a savepoint) and still unchained: only the rows this transaction wrote.
    alive = set(conn.execute(select(_EVENTS.c.id).where(_EVENTS.c.id >= min(pending),
                                                        _EVENTS.c.seq.is_(None))).scalars())
    ids = sorted(i for i in pending if i in alive)
    if not ids:
        return 0
    start = seq = head.seq
    prev = head.hash
    links = []
    for event_id in ids:
        row = pending[event_id]
        seq += 1
        digest = chain.entry_hash(key, seq=seq, prev_hash=prev, at=row["at"], actor_id=row["actor_id"],
                                  actor=row["actor"], token_id=row["token_id"], action=row["action"],
                                  subject_type=row["subject_type"], subject_id=row["subject_id"], data=row["data"])
        links.append({"k": event_id, "s": seq, "p": prev, "h": digest})
        prev = digest
    conn.execute(update(_EVENTS).where(_EVENTS.c.id == bindparam("k"))
                 .values(seq=bindparam("s"), prev_hash=bindparam("p"), hash=bindparam("h")), links)
    moved = conn.execute(update(_HEAD).where(_HEAD.c.id == HEAD_ID, _HEAD.c.seq == start).values(
        seq=seq, hash=prev, mac=chain.head_mac(key, seq, prev), key_id=keys.key_id(key),
        updated_at=datetime.now(UTC)))
    if moved.rowcount != 1:  # cannot happen while the lock above holds; refuse rather than fork the chain
        raise RuntimeError("the audit log's head moved under a held lock")
    return len(ids)


@event.listens_for(Session, "before_commit")
def _chain_before_commit(session: Session) -> None:
    if session.info.get(PENDING) and not session.in_nested_transaction():
        chain_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction ended (committed: already chained; else undone)
        session.info.pop(PENDING, None)


def record(
    ctx: Context,
    action: str,
    subject_type: str,
    subject_id: object,
    data: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
    new: bool = False,
) -> None:
    """Append one event in the caller's transaction: who acted (``ctx.actor``), ``action`` (declared in
    ``audit.actions``), on what, and what changed (``data``: JSON values, never a secret). ``new`` is
    accepted for older callers and means nothing now: every event joins the one chain."""
    del new
    actions.check(action)
    plain = json.loads(json.dumps(data or {}, default=str))
    _refuse_secrets(plain, "$")
    at = at or ctx.now()
    _append(ctx.session, [_row(ctx.actor, action, subject_type, subject_id, plain, at)])


def record_new_many(
    ctx: Context, action: str, subject_type: str,
    items: Sequence[tuple[object, dict[str, Any]]], *, at: datetime,
) -> None:
    """One event for each of many subjects at once (bulk imports): one lock, one INSERT for all, one head
    update. ``data`` must already be plain JSON values."""
    if not items:
        return
    actions.check(action)
    for _, data in items:
        _refuse_secrets(data, "$")
    rows = [_row(ctx.actor, action, subject_type, subject_id, data, at) for subject_id, data in items]
    _append(ctx.session, rows)


def history(session: Session, subject_type: str, subject_id: object) -> list[AuditEvent]:
    """A subject's events, oldest first."""
    return list(session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == str(subject_id))
        .order_by(AuditEvent.seq.nulls_last(), AuditEvent.id)
    ))


def verify(session: Session, subject_type: str | None = None, subject_id: object = None) -> bool:
    """True when the whole log is intact; with a subject, when no problem touches that subject's entries or
    the log as a whole (see ``audit.verify.verify_log`` for the report naming each broken entry)."""
    from healthgate.audit.verify import verify_log

    report = verify_log(session)
    if subject_type is None:
        return report.ok
    subject = (subject_type, str(subject_id))
    return not any(p.subject is None or p.subject == subject for p in report.problems)


# ---- reads for admins: browse, filter, export ------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """``actor``: a person's id, or text found in the actor's label; ``action``: one action, or every action of
    a noun ("dataset." or "dataset.*"); ``since``/``until``: times, ``until`` exclusive."""

    actor: str | None = None
    action: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        e, out = AuditEvent, []
        if self.actor:
            try:
                out.append(e.actor_id == uuid.UUID(self.actor.strip()))
            except ValueError:
                out.append(func.lower(e.actor).contains(self.actor.strip().lower(), autoescape=True))
        if self.action:
            action = self.action.strip()
            if action.endswith(("*", ".")):
                out.append(e.action.startswith(action.rstrip("*"), autoescape=True))
            else:
                out.append(e.action == action)
        if self.subject_type:
            out.append(e.subject_type == self.subject_type.strip())
        if self.subject_id:
            out.append(e.subject_id == self.subject_id.strip())
        if self.since:
            out.append(e.at >= self.since)
        if self.until:
            out.append(e.at < self.until)
        return out

    def query(self) -> dict[str, str]:
        """The filters as URL query parameters (for page links)."""
        out = {k: getattr(self, k) for k in ("actor", "action", "subject_type", "subject_id")}
        out |= {k: getattr(self, k).isoformat() for k in ("since", "until") if getattr(self, k)}
        return {k: v for k, v in out.items() if v}


@dataclass
class EventPage:
    items: list[AuditEvent]
    total: int
    before: int | None  # this page's cursor (None: the newest)
    next_before: int | None  # the cursor of the next (older) page, None when this is the last


def events_page(ctx: Context, filters: Filters, *, before: int | None = None, limit: int = 50) -> EventPage:
    """Events matching ``filters``, newest first, ``limit`` at a time; ``before``: the ``seq`` to start below."""
    require(ctx.actor, Permission.AUDIT_VIEW)
    limit = max(1, min(limit, 1000))
    where = filters.clauses()
    total = ctx.session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    stmt = select(AuditEvent).where(*where)
    if before is not None:
        stmt = stmt.where(AuditEvent.seq < before)
    items = list(ctx.session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    more = len(items) > limit
    items = items[:limit]
    return EventPage(items, total, before, items[-1].seq if more and items else None)


def iter_events(ctx: Context, filters: Filters, *, batch: int = 2000) -> Iterator[AuditEvent]:
    """Every event matching ``filters``, oldest first, streamed (exports)."""
    require(ctx.actor, Permission.AUDIT_VIEW)
    stmt = (select(AuditEvent).where(*filters.clauses()).order_by(AuditEvent.seq)
            .execution_options(yield_per=batch))
    yield from ctx.session.scalars(stmt)


def get_event(ctx: Context, event_id: int) -> AuditEvent | None:
    require(ctx.actor, Permission.AUDIT_VIEW)
    return ctx.session.get(AuditEvent, event_id)


def publishers(ctx: Context, dataset: Any) -> dict[int, str]:
    """Who (their display name) published each version of a dataset: for its own team's eyes only (public
    pages name the team)."""
    require(ctx.actor, Permission.DATASET_VIEW_DRAFT, on=dataset)
    rows = ctx.session.execute(
        select(AuditEvent.actor, AuditEvent.data)
        .where(AuditEvent.subject_type == "dataset", AuditEvent.subject_id == str(dataset.id),
               AuditEvent.action.in_(("dataset.published", "dataset.imported"))))
    return {r.data["version"]: r.actor for r in rows if isinstance(r.data.get("version"), int)}


def head_row(session: Session) -> AuditHead | None:
    return session.get(AuditHead, HEAD_ID)
