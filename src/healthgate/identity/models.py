"""The identity registry: people, organisations, custodian teams and their members, API tokens, sign-in
sessions. Every action in healthgate is done by a known person (or the system) on behalf of a team."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from healthgate.db import Base


class Organisation(Base):
    """A research or innovation organisation (a custodian, a university, a company), identified by its ROR id.
    A merged duplicate keeps its row, pointing at the organisation it was merged into."""

    __tablename__ = "organisations"
    __table_args__ = (Index("ix_organisations_name_key", "name_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300))  # identity.service.name_key
    ror_id: Mapped[str | None] = mapped_column(String(9), unique=True)  # "0" + 6 base32 + 2 check digits
    # One of the data-use-register sectors (identity.organisations.SECTORS)
    sector: Mapped[str | None] = mapped_column(String(80))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    website: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"))
    merged_at: Mapped[datetime | None]


class Team(Base):
    """A custodian team that owns datasets, e.g. "SAIL" in member group "ALLIANCE"."""

    __tablename__ = "teams"
    __table_args__ = (Index("uq_teams_name_key", "name_key", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(120), unique=True)  # for URLs: readable, any script, unique
    name: Mapped[str] = mapped_column(String(300))
    # What makes two names one team: NFKC, case-folded, whitespace collapsed (identity.service.name_key)
    name_key: Mapped[str] = mapped_column(String(300))
    member_group: Mapped[str | None] = mapped_column(String(120))
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_at: Mapped[datetime]

    organisation: Mapped[Organisation | None] = relationship(lazy="select")


class User(Base):
    """A person. Signs in with email and password or through an OpenID Connect provider."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)  # case-folded: one account per address
    name: Mapped[str] = mapped_column(String(300))
    password_hash: Mapped[str | None] = mapped_column(String(300))  # argon2id; None: OIDC sign-in only
    email_verified_at: Mapped[datetime | None]
    orcid: Mapped[str | None] = mapped_column(String(19), unique=True)  # 0000-0002-1825-0097
    affiliation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    is_admin: Mapped[bool] = mapped_column(default=False)  # alliance admin: above every team
    # Safe People: accredited researcher status, with its evidence and expiry, verified by an admin.
    accreditation_evidence: Mapped[str | None] = mapped_column(Text)
    accreditation_expires_on: Mapped[date | None]
    accreditation_verified_at: Mapped[datetime | None]
    accreditation_verified_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    # What the public profile shows, chosen by the person: a subset of identity.users.PUBLIC_FIELDS.
    public_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]

    affiliation: Mapped[Organisation | None] = relationship(lazy="select", foreign_keys=[affiliation_id])


class Membership(Base):
    """A person's role in a team; one row per role held."""

    __tablename__ = "memberships"

    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)  # identity.permissions.Role
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A personal bearer token; only its SHA-256 is stored. Never more powerful than its owner: ``scope`` is
    "read" (what the owner may see), "write" (the owner's permissions in ``team_ids`` only) or "admin" (the
    owner's alliance-admin power, only for admins)."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart in lists
    scope: Mapped[str] = mapped_column(String(10))
    team_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginSession(Base):
    """A browser sign-in. The cookie holds a random value; only its SHA-256 is stored."""

    __tablename__ = "login_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(80))  # "password" or "oidc:<provider>"
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class OidcIdentity(Base):
    """A person's account at an OpenID Connect provider, linked on first sign-in."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_oidc_identities_provider_subject"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class EmailToken(Base):
    """An emailed, expiring, single-use token (email verification, password reset, team invitation)."""

    __tablename__ = "email_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # "verify", "reset", "invite"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
