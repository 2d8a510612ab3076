"""Search: ranked, faceted full-text search over every kind of record (see docs/search.md)."""

from __future__ import annotations

from typing import Any


def warm(engine: Any) -> None:
    """Build the in-memory search snapshots for this database now (call once at application start-up)."""
    from healthgate.search.facets import warm as _warm

    _warm(engine)
