"""The SQLite backend: an FTS5 table ``search_fts`` over ``search_entries`` as external content.

External content means FTS5 keeps no copy of the text, so it must be told what leaves it: before an entry's
text changes its old visible text is deleted from the index, and after the write the new visible text is
added. Invisible entries are not in the index at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import BindParameter, bindparam, text
from sqlalchemy.orm import Session

from healthgate.search.query import Query, Unit, fts_unit, to_fts5

TEXT_FIELDS = ("title", "aliases", "keywords", "abstract", "description", "owner")
_LIST = ", ".join(TEXT_FIELDS)
# bm25 weights of the text fields, in TEXT_FIELDS order
BM25 = "bm25(search_fts, 10.0, 6.0, 6.0, 3.0, 1.0, 2.0)"
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)


def _rows(session: Session, sql: str, *args: Any) -> list[Any]:
    # straight through the driver: SQLAlchemy's per-row handling costs more than FTS5 on 30,000 hits
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return cursor.execute(sql, args).fetchall()
    finally:
        cursor.close()


def _arrays(rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0)
    arr = np.array(rows, dtype=np.float64)
    return arr[:, 0].astype(np.int64), arr[:, 1]


class SQLiteBackend:
    rank_limit = 2000  # bm25() costs a few microseconds a match; finding matches costs a tenth of that

    def lock(self, session: Session) -> None:
        """SQLite has one writer at a time already."""

    def before_change(self, session: Session, kind: str, subject_ids: Sequence[str]) -> None:
        session.execute(
            text(f"INSERT INTO search_fts(search_fts, rowid, {_LIST}) SELECT 'delete', id, {_LIST} "
                 "FROM search_entries WHERE visible AND kind = :kind AND subject_id IN :ids").bindparams(_IDS),
            {"kind": kind, "ids": list(subject_ids)},
        )

    def after_change(self, session: Session, kind: str, subject_ids: Sequence[str]) -> None:
        session.execute(
            text(f"INSERT INTO search_fts(rowid, {_LIST}) SELECT id, {_LIST} "
                 "FROM search_entries WHERE visible AND kind = :kind AND subject_id IN :ids").bindparams(_IDS),
            {"kind": kind, "ids": list(subject_ids)},
        )

    def match(self, session: Session, query: Query, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        # bm25() works only inside its MATCH: matching again is cheap next to scoring
        expr = to_fts5(query)
        if not expr:
            return _arrays([])
        return _arrays(_rows(session, f"SELECT rowid, -{BM25} FROM search_fts WHERE search_fts MATCH ?", expr))

    def matching(self, session: Session, query: Query) -> np.ndarray:
        expr = to_fts5(query)
        if not expr:
            return np.zeros(0, np.int64)
        # one row of comma-separated ids: far cheaper to fetch than a row per match
        joined = _rows(session, "SELECT group_concat(rowid) FROM search_fts WHERE search_fts MATCH ?", expr)[0][0]
        return np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, np.int64)

    def matching_any(self, session: Session, units: Sequence[Unit]) -> np.ndarray:
        if not units:
            return np.zeros(0, np.int64)
        expr = " OR ".join(fts_unit(u) for u in units)
        joined = _rows(session, "SELECT group_concat(rowid) FROM search_fts WHERE search_fts MATCH ?", expr)[0][0]
        return np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, np.int64)


BACKEND = SQLiteBackend()
