"""The audit log: one row per state change, in one hash chain across the whole log (see ``audit.chain``), and
the chain's head, updated in the same transaction as the entries it covers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.db import Base

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=True)
    # position in the chain: 1, 2, 3, ... no gaps (None only inside the transaction that appends it)
    seq: Mapped[int | None] = mapped_column(_BIGINT, unique=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # the person (None: the system)
    actor: Mapped[str] = mapped_column(String(300))  # the actor's display label when they acted
    token_id: Mapped[uuid.UUID | None]  # the API token they acted through, if any
    action: Mapped[str] = mapped_column(String(100), index=True)  # one of audit.actions.ACTIONS
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]]  # what changed
    prev_hash: Mapped[str | None] = mapped_column(String(64))  # the previous entry's hash (None for the first)
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """One row (id 1): the newest entry's ``seq`` and ``hash``, with an HMAC over both, and a fingerprint of
    the key the chain is hashed with. Deleting the newest entries leaves it pointing past the end."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(_BIGINT)
    hash: Mapped[str | None] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime | None]
