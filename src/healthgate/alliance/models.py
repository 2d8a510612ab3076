"""The alliance: its members (organisations), their letters of intent, and the reminders sent about their
obligations. Obligations themselves are computed from the data (``alliance/obligations.py``), never stored."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.db import Base


class Member(Base):
    __tablename__ = "alliance_members"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), unique=True)
    # data-custodian | non-custodian-partner | industry-association | funder | patient-organisation | other
    member_type: Mapped[str] = mapped_column(String(40))
    join_date: Mapped[date] = mapped_column(index=True)
    wave: Mapped[str | None] = mapped_column(String(40))  # the announcement wave, e.g. "2026 Q3"
    announced_on: Mapped[date | None]
    left_on: Mapped[date | None]  # a member that left keeps its history
    public: Mapped[bool] = mapped_column(default=True)  # shown on the public members page
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class LetterOfIntent(Base):
    """A signed letter of intent; a member may sign again (the latest counts)."""

    __tablename__ = "alliance_letters"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alliance_members.id", ondelete="CASCADE"), index=True)
    signed_on: Mapped[date]
    signatory_name: Mapped[str] = mapped_column(Text)
    signatory_position: Mapped[str] = mapped_column(Text)
    # the signed document, kept by access.storage (local directory or S3)
    storage_key: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[str] = mapped_column(String(300))


class ObligationReminder(Base):
    """A reminder about one obligation falling due for one member, sent once through the outbox."""

    __tablename__ = "alliance_reminders"
    __table_args__ = (UniqueConstraint("member_id", "obligation", "due_on", "stage",
                                       name="uq_alliance_reminders_once"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alliance_members.id", ondelete="CASCADE"))
    obligation: Mapped[str] = mapped_column(String(40))  # discoverable | access-requests | register-quarterly
    due_on: Mapped[date]
    stage: Mapped[str] = mapped_column(String(20))  # due-soon | overdue
    sent_at: Mapped[datetime]
