"""The one interface between search and a database's full-text engine (ports and adapters).

Everything engine-specific in search lives in one module per engine, ``search/sqlite.py`` (FTS5) and
``search/postgres.py`` (tsvector with a GIN index), each implementing ``Backend``. The backend is chosen once
per engine from its dialect (``for_session``); nothing else in search asks which database it is on.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from healthgate.search.query import Query, Unit

# dialect name -> module whose BACKEND implements Backend for it
MODULES = {"sqlite": "healthgate.search.sqlite", "postgresql": "healthgate.search.postgres"}


class Backend(Protocol):
    """A database's full-text index over ``search_entries`` (ids are ``search_entries.id``)."""

    rank_limit: int  # score matches in the database only up to this many (see search.textindex)

    def lock(self, session: Session) -> None:
        """Take the index's write lock (where the engine needs one) before any domain row is locked."""

    def before_change(self, session: Session, kind: str, subject_ids: Sequence[str]) -> None:
        """Called before these entries' text or visibility changes (an external-content index forgets them)."""

    def after_change(self, session: Session, kind: str, subject_ids: Sequence[str]) -> None:
        """Called after these entries were written (an external-content index learns their visible text)."""

    def matching(self, session: Session, query: Query) -> np.ndarray:
        """Ids of the visible entries matching the query, unscored (cheap)."""

    def match(self, session: Session, query: Query, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, text scores: higher is better) of the visible entries matching the query: every ``must``
        unit and no ``exclude`` unit. ``ids``, when given, are exactly those entries (found already): a
        backend may score them by id rather than match again."""

    def matching_any(self, session: Session, units: Sequence[Unit]) -> np.ndarray:
        """Ids of the visible entries matching any of these units."""


_chosen: weakref.WeakKeyDictionary[Engine, Backend] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def for_engine(engine: Engine) -> Backend:
    backend = _chosen.get(engine)
    if backend is None:
        with _lock:
            module = MODULES.get(engine.dialect.name)
            if module is None:
                raise RuntimeError(f"search has no backend for the {engine.dialect.name!r} database")
            backend = _chosen[engine] = importlib.import_module(module).BACKEND
    return backend


def for_session(session: Session) -> Backend:
    return for_engine(session.get_bind().engine)
