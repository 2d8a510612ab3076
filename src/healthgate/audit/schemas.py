"""Shapes of the audit log's JSON API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from healthgate.audit.actions import describe
from healthgate.audit.models import AuditEvent
from healthgate.catalogue.schemas import Out, PageLinks


class AuditEventOut(Out):
    id: int
    seq: int | None = Field(description="the entry's place in the chain: 1, 2, 3, ... with no gaps (null only "
                                        "for an entry that was inserted outside the audit service)")
    at: datetime
    actor_id: uuid.UUID | None = Field(description="the person who acted; null for the system")
    actor: str = Field(description="the actor's display name when they acted")
    token_id: uuid.UUID | None = Field(description="the API token they acted through, if any")
    action: str
    action_description: str
    subject_type: str
    subject_id: str
    data: dict[str, Any] = Field(description="what changed")
    prev_hash: str | None
    hash: str | None

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventOut:
        return cls(id=e.id, seq=e.seq, at=e.at, actor_id=e.actor_id, actor=e.actor, token_id=e.token_id,
                   action=e.action, action_description=describe(e.action), subject_type=e.subject_type,
                   subject_id=e.subject_id, data=e.data, prev_hash=e.prev_hash, hash=e.hash)


class AuditPage(PageLinks):
    total: int = Field(description="how many events match the filters")
    items: list[AuditEventOut] = Field(description="newest first")


class AuditProblem(Out):
    message: str
    seq: int | None
    event_id: int | None


class VerifyOut(Out):
    ok: bool
    checked: int
    head_seq: int | None
    checkpoint: str | None = Field(description="SEQ:HASH of the head: keep it elsewhere, check it later")
    problems: list[AuditProblem]


class ActionOut(Out):
    action: str
    description: str
