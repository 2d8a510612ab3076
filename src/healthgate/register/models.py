"""The Data Use Register: one entry per approved project a custodian reports, with the fields of the
alliance's data use register standard (HDR UK's upload template, ``register/fields.py`` names them).

An entry belongs to one custodian team. It is a draft until the custodian publishes it; only published entries
are public. Entries come from three places (``origin``): drafted from an approved application, uploaded in a
register file (CSV or XLSX), or typed in. An upload updates entries by the custodian's ``project_id``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.db import Base


class RegisterEntry(Base):
    __tablename__ = "register_entries"
    __table_args__ = (
        UniqueConstraint("team_id", "project_id", name="uq_register_entries_project"),
        # an approved application drafts one entry per custodian that approved it
        UniqueConstraint("application_id", "team_id", name="uq_register_entries_application"),
        Index("ix_register_entries_status_approval", "status", "approval_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)  # the custodian reporting it
    project_id: Mapped[str | None] = mapped_column(String(200))  # the custodian's id; upload updates by it
    status: Mapped[str] = mapped_column(String(20))  # draft | published | withdrawn
    origin: Mapped[str] = mapped_column(String(20))  # application | upload | manual
    application_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("applications.id"))
    # Safe people
    organisation_name: Mapped[str] = mapped_column(Text)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    organisation_ror: Mapped[str | None] = mapped_column(String(40), index=True)  # as given (checked)
    organisation_sector: Mapped[str | None] = mapped_column(String(200))
    funders: Mapped[list[str]] = mapped_column(JSON, default=list)
    accredited_researcher: Mapped[str | None] = mapped_column(String(40))  # Yes | No | Unknown
    sublicence: Mapped[str | None] = mapped_column(Text)
    # Safe project
    project_title: Mapped[str] = mapped_column(Text)
    lay_summary: Mapped[str] = mapped_column(Text)
    public_benefit: Mapped[str] = mapped_column(Text)
    request_category: Mapped[str | None] = mapped_column(String(200))
    technical_summary: Mapped[str | None] = mapped_column(Text)
    other_approvals: Mapped[str | None] = mapped_column(Text)
    project_start: Mapped[date | None]
    project_end: Mapped[date | None]
    approval_date: Mapped[date]
    # Safe data
    sensitivity: Mapped[str | None] = mapped_column(String(100))
    legal_basis: Mapped[str | None] = mapped_column(Text)  # GDPR Article 6
    lawful_condition: Mapped[str | None] = mapped_column(Text)  # GDPR Article 9
    confidentiality_duty: Mapped[str | None] = mapped_column(String(200))  # common law duty of confidentiality
    opt_out_applied: Mapped[str | None] = mapped_column(String(40))
    request_frequency: Mapped[str | None] = mapped_column(String(40))
    linkage_description: Mapped[str | None] = mapped_column(Text)
    confidential_description: Mapped[str | None] = mapped_column(Text)
    access_date: Mapped[date | None]  # release / access date
    # Safe setting, safe outputs
    access_type: Mapped[str] = mapped_column(String(40))  # TRE | Release
    privacy_enhancements: Mapped[str | None] = mapped_column(Text)
    # bookkeeping
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class RegisterEntryDataset(Base):
    """A dataset an entry used: matched to a catalogue dataset, or outside the catalogue by name only."""

    __tablename__ = "register_entry_datasets"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("register_entries.id", ondelete="CASCADE"),
                                                primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)  # as the custodian wrote it
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("datasets.id"), index=True)


class RegisterEntryApplicant(Base):
    """A named applicant of an entry, with their ORCID iD when known (researcher pages find them by it)."""

    __tablename__ = "register_entry_applicants"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("register_entries.id", ondelete="CASCADE"),
                                                primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    orcid: Mapped[str | None] = mapped_column(String(19), index=True)  # 0000-0002-1825-0097
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)


class RegisterEntryOutput(Base):
    """A research output of an entry: a paper (by DOI), a tool, code, or any link."""

    __tablename__ = "register_entry_outputs"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("register_entries.id", ondelete="CASCADE"),
                                                primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # paper | tool | code | link
    url: Mapped[str] = mapped_column(Text)  # https://doi.org/10.xxx for a paper with a DOI
    doi: Mapped[str | None] = mapped_column(String(300), index=True)
    title: Mapped[str | None] = mapped_column(Text)


class RegisterUpload(Base):
    """One register file a custodian uploaded (and applied): when, what, and how many rows did what."""

    __tablename__ = "register_uploads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id"), index=True)
    filename: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(10))  # csv | xlsx
    sha256: Mapped[str] = mapped_column(String(64))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # rows, created, updated, unchanged
    uploaded_by: Mapped[str] = mapped_column(String(300))
    uploaded_at: Mapped[datetime] = mapped_column(index=True)
