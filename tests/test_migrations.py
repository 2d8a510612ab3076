"""The models and the migrations agree: autogenerate finds nothing to change on either database, so a new
domain's migration holds only its own changes (never a drop of the search index)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from healthgate import models_registry  # noqa: F401  (every domain's tables)
from healthgate.db import Base
from healthgate.migrations.filters import include_name, include_object, is_search_object


def _differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name,
                                                         "include_object": include_object})
        return compare_metadata(context, Base.metadata)


def test_autogenerate_finds_nothing_to_change(db):
    assert _differences(db.engine) == []


def test_without_the_filter_the_search_objects_would_be_dropped(db):
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    names = {getattr(d[1], "name", None) or d[-1].name for d in diffs if isinstance(d, tuple)}
    assert names and all(is_search_object(n) for n in names)  # the filter is what hides them


@pytest.mark.parametrize("name,search", [
    ("dataset_fts", True), ("dataset_fts_data", True), ("fts_records", True), ("search_fts5", True),
    ("tsv", True), ("title_tsv", True), ("ix_search_entries_tsv", True), ("tsv_en", True),
    ("datasets", False), ("shifts", False), ("tsvector_notes", False), ("artsvideo", False), ("gifts_fts", True),
])
def test_search_object_names(name, search):
    assert is_search_object(name) is search
