"""Keep the search index in step with every domain, inside the caller's transaction.

Any kind of record goes in through ``put(session, kind, entries)`` and out of public search through
``withdraw(session, kind, subject_ids)``. Writers call ``lock(session)`` first, before locking any of their own
rows, so every index writer locks in one order. ``IndexItem``, ``index`` and ``remove`` are the dataset
kind's forms of these, kept for the catalogue's callers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from healthgate.search import backend
from healthgate.search.models import SearchEntry, SearchState

_ENTRIES = cast(Table, SearchEntry.__table__)


@dataclass
class Entry:
    """One record as search sees it. Text fields by weight: title, aliases, keywords, abstract, description,
    owner (the organisation responsible). ``data`` is whatever the kind's facets and hits read."""

    subject_id: str
    title: str
    updated_at: datetime
    aliases: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    abstract: str | None = None
    description: str | None = None
    owner: str | None = None
    quality: float = 0.0
    start_date: date | None = None
    end_date: date | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def row(self, kind: str) -> dict[str, Any]:
        return {
            "kind": kind, "subject_id": self.subject_id, "title": self.title,
            "aliases": " ; ".join(self.aliases), "keywords": " ; ".join(self.keywords),
            "abstract": self.abstract or "", "description": self.description or "", "owner": self.owner,
            "quality": self.quality, "start_date": self.start_date, "end_date": self.end_date,
            "updated_at": self.updated_at, "data": self.data,
        }


def lock(session: Session) -> None:
    """Take the index's write lock first, before any domain row: every writer then locks in one order
    (index, then its rows), so a publish and an import can wait for each other but never deadlock."""
    backend.for_session(session).lock(session)


def _bump(session: Session) -> int:
    """The next generation. Its row lock is held to commit, so index writers commit in generation order."""
    return session.execute(
        update(SearchState).where(SearchState.id == 1).values(generation=SearchState.generation + 1)
        .returning(SearchState.generation)
    ).scalar_one()


def put(session: Session, kind: str, entries: Sequence[Entry], *, fresh: bool = False) -> None:
    """Make these records searchable as they are now. ``fresh=True``: none of them has an entry yet."""
    if not entries:
        return
    engine = backend.for_session(session)
    generation = _bump(session)
    rows = [{**e.row(kind), "seq": generation, "visible": True} for e in entries]
    subjects = [e.subject_id for e in entries]
    known: set[str] = set()
    if not fresh:
        known = set(session.scalars(select(SearchEntry.subject_id).where(
            SearchEntry.kind == kind, SearchEntry.subject_id.in_(subjects))))
    conn = session.connection()
    if known:
        engine.before_change(session, kind, sorted(known))
        conn.execute(
            update(_ENTRIES).where(_ENTRIES.c.kind == kind, _ENTRIES.c.subject_id == bindparam("key")),
            [{**{k: v for k, v in r.items() if k not in ("kind", "subject_id")}, "key": r["subject_id"]}
             for r in rows if r["subject_id"] in known],
        )
    new_rows = [r for r in rows if r["subject_id"] not in known]
    if new_rows:
        conn.execute(insert(_ENTRIES), new_rows)
    engine.after_change(session, kind, subjects)


def withdraw(session: Session, kind: str, subject_ids: Sequence[str]) -> None:
    """Take records out of public search. Their entries stay, invisible, for the change feed."""
    if not subject_ids:
        return
    generation = _bump(session)
    backend.for_session(session).before_change(session, kind, list(subject_ids))
    session.execute(
        update(SearchEntry).where(SearchEntry.kind == kind, SearchEntry.subject_id.in_(list(subject_ids)))
        .values(visible=False, seq=generation).execution_options(synchronize_session=False)
    )


# ---- the dataset kind, as the catalogue calls it ------------------------------------------------------------


@dataclass
class IndexItem:
    """A published dataset version, as the catalogue hands it to search (see ``catalogue.indexing``)."""

    dataset_id: uuid.UUID
    version_id: uuid.UUID
    title: str
    aliases: list[str]
    keywords: list[str]
    abstract: str | None
    description: str | None
    custodian: str | None
    member_group: str | None
    population_size: int | None
    start_date: Any
    end_date: Any
    quality_score: float
    medallion: str
    updated_at: datetime
    facets: dict[str, Any]
    record_date: date | None = None  # the record's own modified (or issued) date, from its document
    record_version: str | None = None  # the record's own version label, from its document


def index(session: Session, items: Sequence[IndexItem], *, fresh: bool = False) -> None:
    """Make these datasets' versions the searchable ones. ``fresh=True``: none has an entry yet."""
    from healthgate.catalogue.indexing import KIND, entry_of

    put(session, KIND.name, [entry_of(i) for i in items], fresh=fresh)


def remove(session: Session, dataset_ids: Sequence[uuid.UUID]) -> None:
    """Take datasets out of public search (archived)."""
    from healthgate.catalogue.indexing import KIND

    withdraw(session, KIND.name, [str(i) for i in dataset_ids])
