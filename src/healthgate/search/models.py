"""What search reads: one entry per searchable record of any kind, keyed by (kind, subject id).

An entry holds the record's searchable text in six weighted fields (title, aliases, keywords, abstract,
description, owner: the organisation responsible for it), a few generic sort and filter fields, and ``data``:
whatever the kind's facet declarations and hits read (see ``search.kinds``). No foreign key ties an entry to
any domain's tables: a domain feeds its records in through ``search.index.put`` and takes them out through
``search.index.withdraw``, in the same transaction as its own write.

The full-text index over the text fields is engine-specific, created by the migrations: on SQLite an FTS5
table ``search_fts`` with this table as external content (rowid = ``id``), kept by the SQLite backend; on
PostgreSQL a narrow table ``search_tsv`` (entry id, weighted tsvector) with a GIN index (``search/postgres.py``).

Entries are never deleted: a record withdrawn from public view keeps its entry with ``visible`` false, so
every change is a row with a newer ``seq``. ``SearchState.generation`` is bumped by every change (the row
lock on it orders index writers), which lets each process keep its in-memory snapshot current by reading only
the entries whose ``seq`` is newer than what it has.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.db import Base


class SearchEntry(Base):
    __tablename__ = "search_entries"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", name="uq_search_entries_kind_subject"),
        # a snapshot's refresh reads one kind's entries newer than a seq: without this index SQLite's planner
        # reads every entry of the kind through the unique constraint (0.8 s at 100k, on every write)
        Index("ix_search_entries_kind_seq", "kind", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(100))
    visible: Mapped[bool] = mapped_column(default=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(Text)
    aliases: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    abstract: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str | None] = mapped_column(String(300))
    quality: Mapped[float] = mapped_column(Float, default=0.0)  # the "quality" sort; 0 for kinds without one
    start_date: Mapped[date | None]  # the period the record covers (date filter)
    end_date: Mapped[date | None]
    updated_at: Mapped[datetime]  # when the entry was last put
    data: Mapped[dict[str, Any]]  # kind-specific: read by the kind's facets and hits


class SearchState(Base):
    """A single row: the search index's generation."""

    __tablename__ = "search_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
