"""The PostgreSQL backend: a narrow table ``search_tsv`` (entry id, weighted tsvector) with a GIN index.

Only visible entries have a row. The tsvectors live apart from the wide entry rows, out of line, so finding
the ids matching a common word reads a few small pages. Matches are ranked in memory (search.textindex), never
by ts_rank_cd, which reads each match's whole tsvector. The index's write lock is the row lock on ``search_state``, taken
first by every index writer (one lock order: no deadlocks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from healthgate.search.models import SearchState
from healthgate.search.query import Query, Unit, to_tsquery_sql

# D (description, owner), C (abstract), B (aliases, keywords), A (title)
WEIGHTS = "'{0.15, 0.35, 0.6, 1.0}'"
WEIGHTED = " || ".join(
    f"setweight(to_tsvector('healthgate_english'::regconfig, coalesce({col}, '')), '{w}')"
    for col, w in [("title", "A"), ("aliases", "B"), ("keywords", "B"), ("abstract", "C"),
                   ("description", "D"), ("owner", "D")]
)


def _tsquery(units: Sequence[Unit], params: dict[str, str], start: int = 0) -> str:
    return " && ".join(to_tsquery_sql(list(units), params, start))


def _arrays(rows: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0)
    arr = np.array(rows, dtype=np.float64)
    return arr[:, 0].astype(np.int64), arr[:, 1]


def _by_index(session: Session, sql: str, params: dict[str, str]) -> list[Any]:
    """Run a match through the GIN index. For a common word the planner guesses that reading every row beats
    the index, but reading every tsvector costs several times the index's bitmap: seq scans are turned off
    for this one statement (and restored, so the rest of the caller's transaction plans as usual)."""
    before = session.execute(text(
        "SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")).one()[0]
    try:
        return list(session.execute(text(sql), params).all())
    finally:
        session.execute(text("SELECT set_config('enable_seqscan', :v, true)"), {"v": before or "on"})


class PostgresBackend:
    # Every match is ranked in memory by bm25 (search.textindex), however few: ts_rank_cd reads each match's
    # whole tsvector (tens of microseconds a match), knows no IDF, and judged worse on the relevance queries
    # (MRR@10 0.902 / success@5 0.955 against bm25's 0.915 / 0.985), and one ranking function on both databases
    # means one order whatever a deployment runs on. ``match`` stays for comparisons (benchmarks/relevance.py).
    rank_limit = 0

    def lock(self, session: Session) -> None:
        session.execute(select(SearchState.generation).where(SearchState.id == 1).with_for_update())

    def before_change(self, session: Session, kind: str, subject_ids: Sequence[str]) -> None:
        session.execute(
            text("DELETE FROM search_tsv WHERE id IN (SELECT id FROM search_entries WHERE kind = :kind "
                 "AND subject_id = ANY(CAST(:ids AS varchar[])))"), {"kind": kind, "ids": list(subject_ids)})

    def after_change(self, session: Session, kind: str, subject_ids: Sequence[str]) -> None:
        session.execute(
            text(f"INSERT INTO search_tsv (id, tsv) SELECT id, {WEIGHTED} FROM search_entries "
                 "WHERE visible AND kind = :kind AND subject_id = ANY(CAST(:ids AS varchar[]))"),
            {"kind": kind, "ids": list(subject_ids)})

    def _query(self, query: Query) -> tuple[str, dict[str, str]]:
        params: dict[str, str] = {}
        tsq = _tsquery(query.must, params)
        for i, u in enumerate(query.exclude):
            tsq += " && !!" + _tsquery([u], params, 1000 * (i + 1))
        return tsq, params

    def matching(self, session: Session, query: Query) -> np.ndarray:
        if not query.must:
            return np.zeros(0, np.int64)
        tsq, params = self._query(query)
        # one row of comma-separated ids: far cheaper to fetch than a row per match
        joined = _by_index(session, f"SELECT string_agg(id::text, ',') FROM search_tsv WHERE tsv @@ ({tsq})",
                           params)[0][0]
        return np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, np.int64)

    def match(self, session: Session, query: Query, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if not query.must:
            return _arrays([])
        tsq, params = self._query(query)
        if ids is not None:  # found already: score them by primary key, without a second full-text match
            if not len(ids):
                return _arrays([])
            rows = session.execute(text(
                f"WITH q AS (SELECT {tsq} AS q) SELECT id, ts_rank_cd({WEIGHTS}, tsv, q.q, 1) "
                "FROM search_tsv, q WHERE id = ANY(CAST(:ids AS integer[]))"), {**params, "ids": ids.tolist()}).all()
            return _arrays([(r[0], r[1]) for r in rows])
        rows = _by_index(session, f"WITH q AS (SELECT {tsq} AS q) SELECT id, ts_rank_cd({WEIGHTS}, tsv, q.q, 1) "
                         "FROM search_tsv, q WHERE tsv @@ q.q", params)
        return _arrays([(r[0], r[1]) for r in rows])

    def matching_any(self, session: Session, units: Sequence[Unit]) -> np.ndarray:
        if not units:
            return np.zeros(0, np.int64)
        params: dict[str, str] = {}
        tsq = " || ".join(f"({_tsquery([u], params, 1000 * i)})" for i, u in enumerate(units))
        # one row of comma-separated ids: far cheaper to fetch than a row per match
        joined = _by_index(session, f"SELECT string_agg(id::text, ',') FROM search_tsv WHERE tsv @@ ({tsq})",
                           params)[0][0]
        return np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, np.int64)


BACKEND = PostgresBackend()
