"""Migration 0002 on a database holding data: nothing lost (SQLite rebuilds tables that others refer to with
ON DELETE CASCADE), types widened, team name keys filled; and back down again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from healthgate import migrate

NOW = datetime(2026, 1, 1, tzinfo=UTC)
T = {name: sa.table(name, *(sa.column(c, t) for c, t in cols.items())) for name, cols in {
    "teams": {"id": sa.Uuid(), "slug": sa.String(), "name": sa.String(), "member_group": sa.String(),
              "created_at": sa.DateTime()},
    "api_tokens": {"id": sa.Uuid(), "name": sa.String(), "token_hash": sa.String(), "is_admin": sa.Boolean(),
                   "team_id": sa.Uuid(), "created_at": sa.DateTime()},
    "datasets": {"id": sa.Uuid(), "team_id": sa.Uuid(), "status": sa.String(), "latest_version": sa.Integer(),
                 "created_at": sa.DateTime(), "updated_at": sa.DateTime(), "row_version": sa.Integer()},
    "dataset_versions": {"id": sa.Uuid(), "dataset_id": sa.Uuid(), "number": sa.Integer(),
                         "published_at": sa.DateTime(), "published_by": sa.String(),
                         "source_schema_version": sa.String(), "document": sa.JSON(), "schema_valid": sa.Boolean(),
                         "schema_errors": sa.JSON(), "quality_score": sa.Float(), "medallion": sa.String(),
                         "quality": sa.JSON(), "title": sa.String(), "keywords": sa.JSON(), "facets": sa.JSON(),
                         "population_size": sa.BigInteger(), "custodian": sa.String()},
    "search_entries": {"dataset_id": sa.Uuid(), "version_id": sa.Uuid(), "visible": sa.Boolean(),
                       "seq": sa.Integer(), "title": sa.String(), "aliases": sa.String(), "keywords": sa.String(),
                       "abstract": sa.String(), "description": sa.String(), "quality_score": sa.Float(),
                       "medallion": sa.String(), "updated_at": sa.DateTime(), "facets": sa.JSON()},
}.items()}




def _counts(conn) -> dict[str, int]:
    return {t: conn.scalar(sa.select(sa.func.count()).select_from(sa.table(t))) for t in T}


def test_0002_keeps_every_row_and_widens_columns(engine):
    migrate.upgrade(engine, "0001")
    team, dataset, version = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with engine.begin() as c:
        c.execute(T["teams"].insert(), [
            {"id": team, "slug": "a-e-team", "name": "  A&E   Team ", "member_group": None, "created_at": NOW},
            {"id": uuid.uuid4(), "slug": "strasse", "name": "Strasse", "member_group": None, "created_at": NOW},
            {"id": uuid.uuid4(), "slug": "stra-e", "name": "STRAẞE", "member_group": None,
             "created_at": NOW.replace(year=2027)}])
        c.execute(T["api_tokens"].insert(), [{"id": uuid.uuid4(), "name": "t", "token_hash": "h" * 64,
                                              "is_admin": False, "team_id": team, "created_at": NOW}])
        c.execute(T["datasets"].insert(), [{"id": dataset, "team_id": team, "status": "active",
                                            "latest_version": 1, "created_at": NOW, "updated_at": NOW,
                                            "row_version": 1}])
        c.execute(T["dataset_versions"].insert(), [{
            "id": version, "dataset_id": dataset, "number": 1, "published_at": NOW, "published_by": "x",
            "source_schema_version": "4.0.0", "document": {}, "schema_valid": True, "schema_errors": [],
            "quality_score": 50.0, "medallion": "", "quality": {}, "title": "A", "keywords": [], "facets": {},
            "population_size": 1000, "custodian": "A&E Team"}])
        c.execute(T["search_entries"].insert(), [{
            "dataset_id": dataset, "version_id": version, "visible": True, "seq": 1, "title": "A", "aliases": "",
            "keywords": "", "abstract": "", "description": "", "quality_score": 50.0, "medallion": "",
            "updated_at": NOW, "facets": {}}])
        before = _counts(c)
    migrate.upgrade(engine, "0002")
    with engine.begin() as c:
        assert _counts(c) == before
        keys = dict(c.execute(sa.text("SELECT name, name_key FROM teams")).all())
        assert keys["  A&E   Team "] == "a&e team"
        assert keys["Strasse"] == "strasse"  # "STRAẞE" folds to the same key: kept apart, by its id
        assert keys["STRAẞE"].startswith("strasse (")
        with pytest.raises(sa.exc.IntegrityError), c.begin_nested():
            c.execute(sa.text("UPDATE teams SET name_key = 'strasse'"))
        c.execute(T["dataset_versions"].update().values(population_size=2**40, custodian="C" * 1000))
        assert c.scalar(sa.text("SELECT population_size FROM dataset_versions")) == 2**40
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns("dataset_versions")}
    assert isinstance(columns["population_size"]["type"], sa.BigInteger)
    assert not {c["name"]: c for c in inspector.get_columns("teams")}["name_key"]["nullable"]
    assert {i["name"] for i in inspector.get_indexes("teams") if i["unique"]} >= {"uq_teams_name_key"}
    migrate.upgrade(engine, "0002")  # idempotent
    with engine.begin() as c:
        c.execute(T["dataset_versions"].update().values(population_size=5, custodian="short"))
    migrate.downgrade(engine, "0001")
    with engine.begin() as c:
        assert _counts(c) == before
        assert c.scalar(sa.text("PRAGMA foreign_keys")) if engine.dialect.name == "sqlite" else True
        assert "name_key" not in {c["name"] for c in sa.inspect(c).get_columns("teams")}
