"""Queue messages in the caller's transaction: they are sent only if the change that caused them commits."""

from __future__ import annotations

from typing import Any

from healthgate.context import Context
from healthgate.outbox.models import OutboxMessage


def enqueue(ctx: Context, kind: str, payload: dict[str, Any]) -> OutboxMessage:
    now = ctx.now()
    row = OutboxMessage(kind=kind, payload=payload, status="pending", attempts=0, next_attempt_at=now,
                        created_at=now)
    ctx.session.add(row)
    return row


def enqueue_email(ctx: Context, to: str, subject: str, body: str) -> OutboxMessage:
    """An email, delivered by the worker (``healthgate worker``, or in-process under ``healthgate serve``)."""
    return enqueue(ctx, "email", {"to": to, "subject": subject, "body": body})
