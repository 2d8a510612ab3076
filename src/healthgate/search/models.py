"""What search reads: one entry per dataset that has been public, with its searchable text and facet fields.

The full-text index over the text columns is engine-specific, created by the migrations: on SQLite an FTS5
table ``dataset_fts`` with this table as external content (rowid = ``id``), kept by ``search.index``; on
PostgreSQL a generated, weighted ``tsv`` column with a GIN index. Either way it changes in the same
transaction as the catalogue write.

Entries are never deleted: a dataset withdrawn from public view keeps its entry with ``visible`` false, so
every change is a row with a newer ``seq``. ``SearchState.generation`` is bumped by every change (the row
lock on it orders index writers), which lets each process keep its in-memory facet index current by reading
only the entries whose ``seq`` is newer than what it has.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.db import Base


class SearchEntry(Base):
    __tablename__ = "search_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), unique=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    visible: Mapped[bool] = mapped_column(default=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    title: Mapped[str] = mapped_column(Text)
    aliases: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    abstract: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    custodian: Mapped[str | None] = mapped_column(String(300))
    member_group: Mapped[str | None] = mapped_column(String(120))
    population_size: Mapped[int | None] = mapped_column(BigInteger)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    quality_score: Mapped[float] = mapped_column(Float)
    medallion: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime]
    facets: Mapped[dict[str, Any]] = mapped_column(JSON)


class SearchState(Base):
    """A single row: the search index's generation."""

    __tablename__ = "search_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
