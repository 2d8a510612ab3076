"""Keep the search index in step with the catalogue, inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from healthgate.search.models import SearchEntry, SearchState

# The indexed text columns, in the order researchers judge a hit by: title first, custodian last.
FTS_COLUMNS = ("title", "aliases", "keywords", "abstract", "description", "custodian")
_FTS_LIST = ", ".join(FTS_COLUMNS)


@dataclass
class IndexItem:
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

    def row(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id, "version_id": self.version_id, "title": self.title,
            "aliases": " ; ".join(self.aliases), "keywords": " ; ".join(self.keywords),
            "abstract": self.abstract or "", "description": self.description or "",
            "custodian": self.custodian, "member_group": self.member_group,
            "population_size": self.population_size, "start_date": self.start_date, "end_date": self.end_date,
            "quality_score": self.quality_score, "medallion": self.medallion, "updated_at": self.updated_at,
            "facets": self.facets,
        }


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


_IDS = bindparam("ids", expanding=True)
_ENTRIES = SearchEntry.__table__


def lock(session: Session) -> None:
    """Take the index's write lock first, before any dataset row: every writer then locks in one order
    (index, then datasets), so a publish and an import can wait for each other but never deadlock."""
    if not _sqlite(session):
        session.execute(select(SearchState.generation).where(SearchState.id == 1).with_for_update())


def _bump(session: Session) -> int:
    """The next generation. Its row lock is held to commit, so index writers commit in generation order."""
    return session.execute(
        update(SearchState).where(SearchState.id == 1).values(generation=SearchState.generation + 1)
        .returning(SearchState.generation)
    ).scalar_one()


def _key(session: Session, dataset_id: uuid.UUID) -> str:
    return dataset_id.hex if _sqlite(session) else str(dataset_id)


def _fts_delete(session: Session, keys: list[str]) -> None:
    """External-content FTS5: a delete must be told the old values, read from the entries themselves."""
    session.execute(
        text(f"INSERT INTO dataset_fts(dataset_fts, rowid, {_FTS_LIST}) "
             f"SELECT 'delete', id, {_FTS_LIST} FROM search_entries WHERE visible AND dataset_id IN :ids")
        .bindparams(_IDS), {"ids": keys},
    )


def _fts_insert(session: Session, keys: list[str]) -> None:
    session.execute(
        text(f"INSERT INTO dataset_fts(rowid, {_FTS_LIST}) "
             f"SELECT id, {_FTS_LIST} FROM search_entries WHERE dataset_id IN :ids").bindparams(_IDS),
        {"ids": keys},
    )


def remove(session: Session, dataset_ids: Sequence[uuid.UUID]) -> None:
    """Take datasets out of public search (archived). Their entries stay, invisible, for the change feed."""
    if not dataset_ids:
        return
    generation = _bump(session)
    keys = [_key(session, i) for i in dataset_ids]
    if _sqlite(session):
        _fts_delete(session, keys)
    session.execute(
        update(SearchEntry).where(SearchEntry.dataset_id.in_(dataset_ids)).values(visible=False, seq=generation)
        .execution_options(synchronize_session=False)
    )


def index(session: Session, items: Sequence[IndexItem], *, fresh: bool = False) -> None:
    """Make these datasets' versions the searchable ones. ``fresh=True``: none has an entry yet."""
    if not items:
        return
    generation = _bump(session)
    keys = [_key(session, i.dataset_id) for i in items]
    rows = [{**i.row(), "seq": generation, "visible": True} for i in items]
    conn = session.connection()
    known: set[uuid.UUID] = set()
    if not fresh:
        known = set(session.scalars(select(SearchEntry.dataset_id).where(SearchEntry.dataset_id.in_(
            [i.dataset_id for i in items]))))
    if known:
        if _sqlite(session):
            _fts_delete(session, [k for k, i in zip(keys, items, strict=True) if i.dataset_id in known])
        conn.execute(
            update(_ENTRIES).where(_ENTRIES.c.dataset_id == bindparam("key")),
            [{**{k: v for k, v in r.items() if k != "dataset_id"}, "key": r["dataset_id"]}
             for r in rows if r["dataset_id"] in known],
        )
    new_rows = [r for r in rows if r["dataset_id"] not in known]
    if new_rows:
        conn.execute(insert(_ENTRIES), new_rows)
    if _sqlite(session):
        _fts_insert(session, keys)
