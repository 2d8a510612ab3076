"""Data access requests: the application event log and its projections, enquiries, messages and notes, forms
(question bank and custodian templates), attachments, DUO data-use terms, clock standards, webhooks,
signing keys for GA4GH Passport visas.

The truth about an application is ``application_events`` (append-only, one sequence per application, unique:
two writers can never both append event n). ``applications`` and ``application_parts`` are projections the
service updates in the same transaction, for queues and dashboards; ``access.lifecycle.fold`` rebuilds them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.db import Base, JSONDoc

# -- applications ------------------------------------------------------------------------------------------


class Application(Base):
    """The projection of one application's log (``lifecycle.State``), for lists and queues."""

    __tablename__ = "applications"
    __table_args__ = (Index("ix_applications_applicant_status", "applicant_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # DAR-2026-7F3A9C2E, shown to people
    applicant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="new")  # new | amendment | renewal
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("applications.id"), index=True)
    enquiry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enquiries.id"), index=True)
    status: Mapped[str] = mapped_column(String(30))  # lifecycle.Status
    # Optimistic concurrency: the number of events in the log. A command names the version it read; the
    # append is ``UPDATE ... SET version = version + 1 WHERE version = :read`` and event (id, version + 1).
    version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)  # question id -> answer
    purpose: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)  # DUO purpose (access.duo)
    templates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # team id -> template id it keeps
    collaborators: Mapped[list[str]] = mapped_column(JSON, default=list)  # user ids
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]  # first submission


class ApplicationEvent(Base):
    """One past-tense event in an application's log. Never updated, never deleted."""

    __tablename__ = "application_events"
    __table_args__ = (UniqueConstraint("application_id", "seq", name="uq_application_events_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 ... per application, no gaps
    type: Mapped[str] = mapped_column(String(40))  # lifecycle.EVENT_TYPES
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))  # the part it concerns
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)


class ApplicationDataset(Base):
    """A dataset an application asks for, with its custodian team (the part that decides it)."""

    __tablename__ = "application_datasets"

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id"), primary_key=True, index=True)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ApplicationPart(Base):
    """The projection of one custodian team's part (``lifecycle.Part``): the custodian's queue."""

    __tablename__ = "application_parts"
    __table_args__ = (Index("ix_application_parts_team_state", "team_id", "state"),)

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(30))  # lifecycle.PartState
    submitted_at: Mapped[datetime]
    returned_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    reviewers: Mapped[list[str]] = mapped_column(JSON, default=list)
    phase: Mapped[str | None] = mapped_column(String(80))
    phase_due: Mapped[date | None]
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]


# -- enquiries, messages, notes ------------------------------------------------------------------------------


class Enquiry(Base):
    """A question to the custodians of one or more datasets, before (or instead of) an application."""

    __tablename__ = "enquiries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    reference: Mapped[str] = mapped_column(String(40), unique=True)  # ENQ-2026-...
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # general | feasibility
    subject: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The application it became (no foreign key: applications.enquiry_id points the other way)
    application_id: Mapped[uuid.UUID | None] = mapped_column()


class EnquiryDataset(Base):
    __tablename__ = "enquiry_datasets"

    enquiry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enquiries.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)


class Message(Base):
    """A message or a note, on an enquiry or an application, optionally about one question.

    ``audience`` says who may read it: "shared" (a message between the applicant's side and one custodian team
    ``team_id``: both read it, other custodians do not), "team" (a custodian team's internal note: only that
    team) or "applicant" (the applicant side's own note: only the applicant and collaborators)."""

    __tablename__ = "access_messages"
    __table_args__ = (Index("ix_access_messages_thread", "thread_type", "thread_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    thread_type: Mapped[str] = mapped_column(String(20))  # enquiry | application
    thread_id: Mapped[uuid.UUID] = mapped_column()
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))  # the custodian side
    question_id: Mapped[str | None] = mapped_column(String(200))
    audience: Mapped[str] = mapped_column(String(20))  # shared | team | applicant
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    author_side: Mapped[str] = mapped_column(String(20))  # applicant | custodian
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class BasketItem(Base):
    """A dataset a signed-in researcher collected to apply for together."""

    __tablename__ = "access_basket_items"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    added_at: Mapped[datetime]


# -- forms -------------------------------------------------------------------------------------------------


class QuestionBankVersion(Base):
    """The central question bank, grouped by the Five Safes; each change is a new version."""

    __tablename__ = "access_question_bank"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    questions: Mapped[dict[str, Any]] = mapped_column(JSONDoc)  # {"sections": [...]}
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(Text, default="")


class FormTemplate(Base):
    """A custodian team's form, built from the bank: which questions, required or not, guidance, follow-ups.
    Versioned per team; an application keeps the template version it started on."""

    __tablename__ = "access_templates"
    __table_args__ = (UniqueConstraint("team_id", "version", name="uq_access_templates_version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    bank_version: Mapped[int] = mapped_column(ForeignKey("access_question_bank.version"))
    items: Mapped[dict[str, Any]] = mapped_column(JSONDoc)  # {"questions": [{"id", "required", "guidance"}...]}
    status: Mapped[str] = mapped_column(String(20))  # draft | published
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(300))


class Attachment(Base):
    """A file attached to an application (optionally to one question), kept through ``access.storage``."""

    __tablename__ = "access_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"),
                                                      index=True)
    question_id: Mapped[str | None] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


# -- terms of access and DUO -----------------------------------------------------------------------------


class DatasetDataUse(Base):
    """A dataset's GA4GH DUO data-use conditions, set by its custodian: one permission term (GRU, HMB, DS,
    POA, NRES), disease restrictions (ontology ids) and modifiers (IRB, PUB, COL, NCU, ...)."""

    __tablename__ = "access_dataset_data_use"

    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str | None] = mapped_column(String(20))  # DUO:0000042 ...
    diseases: Mapped[list[str]] = mapped_column(JSON, default=list)
    modifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(300))


class TeamAccessSettings(Base):
    """A custodian team's access settings: the UK nation whose bank holidays its clocks skip."""

    __tablename__ = "access_team_settings"

    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    nation: Mapped[str] = mapped_column(String(3), default="ENG")  # ENG | WLS | SCT | NIR (holidays' subdivs)
    updated_at: Mapped[datetime]


class ClockStandard(Base):
    """The alliance's waiting-time standard for one step, in working days."""

    __tablename__ = "access_clock_standards"

    step: Mapped[str] = mapped_column(String(40), primary_key=True)  # first_response | decision | review
    working_days: Mapped[int] = mapped_column(Integer)
    due_soon_days: Mapped[int] = mapped_column(Integer, default=5)  # "due soon" this many working days before
    updated_at: Mapped[datetime]


class Reminder(Base):
    """A reminder already sent (review phase deadlines, overdue clocks): ``key`` makes sending idempotent."""

    __tablename__ = "access_reminders"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"))
    kind: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[datetime]


# -- notifications and passports ---------------------------------------------------------------------------


class Webhook(Base):
    """A custodian's own system, told of submissions and decisions by signed (HMAC-SHA256) POSTs."""

    __tablename__ = "access_webhooks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(String(200))  # shared with the receiver to check signatures
    events: Mapped[list[str]] = mapped_column(JSON, default=list)  # event types; empty: all
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One webhook call queued in the outbox; its status is the outbox message's."""

    __tablename__ = "access_webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("access_webhooks.id", ondelete="CASCADE"), index=True)
    outbox_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(40))
    application_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("applications.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class SigningKey(Base):
    """A key that signs GA4GH Passport visas; its public half is served as a JWKS."""

    __tablename__ = "access_signing_keys"

    kid: Mapped[str] = mapped_column(String(80), primary_key=True)
    private_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]
