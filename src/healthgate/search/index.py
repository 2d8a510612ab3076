"""Keep the search index in step with the catalogue, inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from healthgate.search.models import SearchEntry

# Field weights follow the order researchers judge a hit by: title first, custodian last.
FTS_COLUMNS = ("title", "aliases", "keywords", "abstract", "description", "custodian")
_PG_WEIGHTS = {"title": "A", "aliases": "B", "keywords": "B", "abstract": "C", "description": "D", "custodian": "D"}


@dataclass
class IndexItem:
    dataset_id: uuid.UUID
    version_id: int
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

    def text_fields(self) -> dict[str, str]:
        return {
            "title": self.title,
            "aliases": " ".join(self.aliases),
            "keywords": " ; ".join(self.keywords),
            "abstract": self.abstract or "",
            "description": self.description or "",
            "custodian": self.custodian or "",
        }


def _entry_row(item: IndexItem) -> dict[str, Any]:
    return {
        "dataset_id": item.dataset_id, "version_id": item.version_id, "title": item.title,
        "custodian": item.custodian, "member_group": item.member_group, "population_size": item.population_size,
        "start_date": item.start_date, "end_date": item.end_date, "quality_score": item.quality_score,
        "medallion": item.medallion, "updated_at": item.updated_at, "facets": item.facets,
    }


def remove(session: Session, dataset_ids: Sequence[uuid.UUID]) -> None:
    """Take datasets out of public search (archived, or about to be re-indexed)."""
    if not dataset_ids:
        return
    ids = list(session.scalars(select(SearchEntry.id).where(SearchEntry.dataset_id.in_(dataset_ids))))
    if not ids:
        return
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM dataset_fts WHERE rowid = :id"), [{"id": i} for i in ids])
    session.execute(delete(SearchEntry).where(SearchEntry.id.in_(ids)))


def index(session: Session, items: Sequence[IndexItem], *, fresh: bool = False) -> None:
    """Make these datasets' versions the searchable ones. ``fresh=True``: none was indexed before."""
    if not items:
        return
    if not fresh:
        remove(session, [i.dataset_id for i in items])
    dialect = session.get_bind().dialect.name
    rows = [_entry_row(i) for i in items]
    ids = list(session.scalars(insert(SearchEntry).returning(SearchEntry.id, sort_by_parameter_order=True), rows))
    if dialect == "sqlite":
        session.execute(
            text(f"INSERT INTO dataset_fts(rowid, {', '.join(FTS_COLUMNS)}) "
                 f"VALUES (:rowid, {', '.join(':' + c for c in FTS_COLUMNS)})"),
            [{"rowid": rid, **item.text_fields()} for rid, item in zip(ids, items, strict=True)],
        )
    elif dialect == "postgresql":
        vector = " || ".join(
            f"setweight(to_tsvector('english', :{c}), '{w}')" for c, w in _PG_WEIGHTS.items()
        )
        session.execute(
            text(f"UPDATE search_entries SET tsv = {vector} WHERE id = :rowid"),
            [{"rowid": rid, **item.text_fields()} for rid, item in zip(ids, items, strict=True)],
        )
