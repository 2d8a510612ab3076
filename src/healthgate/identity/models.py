"""Teams (custodians) and API tokens. The full identity registry (people, organisations, roles) builds on these."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.db import Base


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
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
