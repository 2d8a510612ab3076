"""What Alembic's autogenerate must leave alone: each engine's own full-text search objects.

SQLite FTS5 virtual tables (and their shadow tables ``*_fts_data``, ``*_fts_idx``, ...) and PostgreSQL's
generated ``tsvector`` columns with their GIN indexes are made by hand-written migrations, not from the
SQLAlchemy models, so autogenerate would propose dropping them. The rule is by name, so that any new search
object is covered: a table, column or index whose name has an ``fts`` part (``fts_x``, ``x_fts``,
``x_fts_data``) or a ``tsv`` part (``tsv``, ``x_tsv``, ``tsv_x``, ``ix_search_entries_tsv``).
"""

from __future__ import annotations

import re
from typing import Any

_SEARCH_PART = re.compile(r"(?:^|_)(?:fts\d*|tsv)(?:_|$)", re.IGNORECASE)


def is_search_object(name: str | None) -> bool:
    return bool(name) and bool(_SEARCH_PART.search(name or ""))


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name``: skip engine-specific search tables, columns and indexes when reflecting."""
    return not (type_ in ("table", "column", "index") and is_search_object(name))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object``: the same rule, and an index over a search column is a search object too."""
    if type_ in ("table", "column", "index") and is_search_object(name):
        return False
    if type_ == "index":
        columns = getattr(obj, "columns", None) or []
        if any(is_search_object(getattr(c, "name", None)) for c in columns):
            return False
    return True
