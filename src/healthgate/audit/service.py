"""Record and verify audit events. Called by every service operation that changes state."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from healthgate.audit.models import AuditEvent
from healthgate.context import Context


def _digest(prev: str | None, at: datetime, actor: str, action: str, subject: str, data: dict[str, Any]) -> str:
    body = orjson.dumps([prev, at.isoformat(), actor, action, subject, data], option=orjson.OPT_SORT_KEYS,
                        default=str)
    return hashlib.sha256(body).hexdigest()


def record(
    ctx: Context,
    action: str,
    subject_type: str,
    subject_id: object,
    data: dict[str, Any] | None = None,
    *,
    at: datetime,
    new: bool = False,
) -> AuditEvent:
    """Append an event in the caller's transaction. ``new=True`` says the subject has no earlier events."""
    data = json.loads(json.dumps(data or {}, default=str))
    sid = str(subject_id)
    prev = None
    if not new:
        prev = ctx.session.scalar(
            select(AuditEvent.hash)
            .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == sid)
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    event = AuditEvent(
        at=at, actor=ctx.actor.name, action=action, subject_type=subject_type, subject_id=sid, data=data,
        prev_hash=prev, hash=_digest(prev, at, ctx.actor.name, action, f"{subject_type}:{sid}", data),
    )
    ctx.session.add(event)
    return event


def history(session: Session, subject_type: str, subject_id: object) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == str(subject_id))
            .order_by(AuditEvent.id)
        )
    )


def verify(session: Session, subject_type: str, subject_id: object) -> bool:
    """True when the subject's chain is intact (no event edited, removed or reordered)."""
    prev = None
    for e in history(session, subject_type, subject_id):
        expected = _digest(prev, e.at, e.actor, e.action, f"{subject_type}:{e.subject_id}", e.data)
        if e.prev_hash != prev or e.hash != expected:
            return False
        prev = e.hash
    return True


def record_new_many(
    ctx: Context, action: str, subject_type: str,
    items: list[tuple[object, dict[str, Any]]], *, at: datetime,
) -> None:
    """The first event of many new subjects at once (bulk imports): one INSERT for all. The subjects must be
    new: a dataset id, once used, keeps its row (see catalogue.service.discard_draft), so the importer
    only calls this for ids it has never seen.
    ``data`` must already be plain JSON values."""
    if not items:
        return
    rows = []
    for subject_id, data in items:
        sid, prev = str(subject_id), None
        rows.append({
            "at": at, "actor": ctx.actor.name, "action": action, "subject_type": subject_type, "subject_id": sid,
            "data": data, "prev_hash": prev,
            "hash": _digest(prev, at, ctx.actor.name, action, f"{subject_type}:{sid}", data),
        })
    ctx.session.connection().execute(insert(AuditEvent), rows)
