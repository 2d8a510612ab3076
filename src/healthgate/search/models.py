"""One search entry per publicly visible dataset: its latest published version's searchable fields.

The full-text index over its text columns is engine-specific, created by the migrations: on SQLite an FTS5
table ``dataset_fts`` with this table as external content (rowid = ``id``), filled by ``search.index``; on
PostgreSQL a generated, weighted ``tsv`` tsvector column with a GIN index. Either way it changes in the same
transaction as the catalogue write.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.db import Base


class SearchEntry(Base):
    __tablename__ = "search_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), unique=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    aliases: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    abstract: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    custodian: Mapped[str | None] = mapped_column(String(300), index=True)
    member_group: Mapped[str | None] = mapped_column(String(120))
    population_size: Mapped[int | None]
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    quality_score: Mapped[float] = mapped_column(Float)
    medallion: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(index=True)
    facets: Mapped[dict[str, Any]] = mapped_column(JSON)
