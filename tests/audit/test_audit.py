"""The audit log is hash-chained per subject: edits, deletions and reordering show."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from healthgate.audit import service as audit
from healthgate.audit.models import AuditEvent
from healthgate.context import Context
from healthgate.identity.permissions import SYSTEM


def _events(db, clock, subject):
    with db.sessions.begin() as s:
        audit.record(Context(s, SYSTEM, clock), "thing.created", "thing", subject, {"n": 1}, at=clock.now(), new=True)
        clock.advance(minutes=1)
        audit.record(Context(s, SYSTEM, clock), "thing.changed", "thing", subject, {"n": 2}, at=clock.now())
        clock.advance(minutes=1)
        audit.record(Context(s, SYSTEM, clock), "thing.changed", "thing", subject, {"n": 3}, at=clock.now())


def test_chain_verifies_and_detects_tampering(db, clock):
    subject, other = uuid.uuid4(), uuid.uuid4()
    _events(db, clock, subject)
    _events(db, clock, other)
    with db.sessions() as s:
        assert audit.verify(s, "thing", subject) and audit.verify(s, "thing", other)
        assert [e.data["n"] for e in audit.history(s, "thing", subject)] == [1, 2, 3]
        middle = audit.history(s, "thing", subject)[1].id
    with db.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == middle).values(data={"n": 20}))
    with db.sessions() as s:
        assert not audit.verify(s, "thing", subject)
        assert audit.verify(s, "thing", other)  # chains are per subject
    with db.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == middle).values(data={"n": 2}))
        assert audit.verify(s, "thing", subject)
        s.delete(s.scalar(select(AuditEvent).where(AuditEvent.id == middle)))
    with db.sessions() as s:
        assert not audit.verify(s, "thing", subject)


def test_timestamps_are_utc(db, clock):
    subject = uuid.uuid4()
    _events(db, clock, subject)
    with db.sessions() as s:
        first = audit.history(s, "thing", subject)[0]
        assert first.at == clock.now().replace(minute=30) and first.at.utcoffset().total_seconds() == 0
