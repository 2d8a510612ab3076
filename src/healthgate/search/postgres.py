"""The PostgreSQL backend: a generated, weighted ``tsv`` column on ``search_entries`` with a GIN index.

The column follows the entry's text by itself, so writes need no extra step; the index's write lock is the
row lock on ``search_state``, taken first by every index writer (one lock order: no deadlocks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from healthgate.search.models import SearchState
from healthgate.search.query import Query, Unit, to_tsquery_sql

# D (description, owner), C (abstract), B (aliases, keywords), A (title)
WEIGHTS = "'{0.15, 0.35, 0.6, 1.0}'"


def _tsquery(units: Sequence[Unit], params: dict[str, str], start: int = 0) -> str:
    return " && ".join(to_tsquery_sql(list(units), params, start))


def _arrays(rows: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0)
    arr = np.array(rows, dtype=np.float64)
    return arr[:, 0].astype(np.int64), arr[:, 1]


class PostgresBackend:
    def lock(self, session: Session) -> None:
        session.execute(select(SearchState.generation).where(SearchState.id == 1).with_for_update())

    def before_change(self, session: Session, kind: str, subject_ids: Sequence[str]) -> None:
        """The generated column needs nothing."""

    def after_change(self, session: Session, kind: str, subject_ids: Sequence[str]) -> None:
        """The generated column needs nothing."""

    def match(self, session: Session, query: Query) -> tuple[np.ndarray, np.ndarray]:
        if not query.must:
            return _arrays([])
        params: dict[str, str] = {}
        tsq = _tsquery(query.must, params)
        for i, u in enumerate(query.exclude):
            tsq += " && !!" + _tsquery([u], params, 1000 * (i + 1))
        rows = session.execute(
            text(f"WITH q AS (SELECT {tsq} AS q) SELECT id, ts_rank_cd({WEIGHTS}, tsv, q.q, 1) "
                 f"FROM search_entries, q WHERE visible AND tsv @@ q.q"), params).all()
        return _arrays([(r[0], r[1]) for r in rows])

    def matching_any(self, session: Session, units: Sequence[Unit]) -> np.ndarray:
        if not units:
            return np.zeros(0, np.int64)
        params: dict[str, str] = {}
        tsq = " || ".join(f"({_tsquery([u], params, 1000 * i)})" for i, u in enumerate(units))
        rows = session.execute(text(f"SELECT id FROM search_entries WHERE visible AND tsv @@ ({tsq})"), params)
        return np.array([r[0] for r in rows], dtype=np.int64)


BACKEND = PostgresBackend()
