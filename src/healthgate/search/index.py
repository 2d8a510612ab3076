"""Keep the search index in step with the catalogue, inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, text
from sqlalchemy.orm import Session

from healthgate.search.models import SearchEntry

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


def remove(session: Session, dataset_ids: Sequence[uuid.UUID]) -> None:
    """Take datasets out of public search (archived, or about to be re-indexed)."""
    if not dataset_ids:
        return
    ids = [str(i) if not _sqlite(session) else i.hex for i in dataset_ids]
    if _sqlite(session):
        # External-content FTS5: a delete must be told the old values, read from the entries themselves.
        session.execute(
            text(f"INSERT INTO dataset_fts(dataset_fts, rowid, {_FTS_LIST}) "
                 f"SELECT 'delete', id, {_FTS_LIST} FROM search_entries WHERE dataset_id IN :ids")
            .bindparams(_IDS), {"ids": ids},
        )
    session.execute(delete(SearchEntry).where(SearchEntry.dataset_id.in_(dataset_ids)))


def index(session: Session, items: Sequence[IndexItem], *, fresh: bool = False) -> None:
    """Make these datasets' versions the searchable ones. ``fresh=True``: none was indexed before."""
    if not items:
        return
    if not fresh:
        remove(session, [i.dataset_id for i in items])
    session.connection().execute(insert(SearchEntry.__table__), [i.row() for i in items])
    if _sqlite(session):
        session.execute(
            text(f"INSERT INTO dataset_fts(rowid, {_FTS_LIST}) "
                 f"SELECT id, {_FTS_LIST} FROM search_entries WHERE dataset_id IN :ids").bindparams(_IDS),
            {"ids": [i.dataset_id.hex for i in items]},
        )
