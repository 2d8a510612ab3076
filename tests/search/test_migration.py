"""A database made by the first schema, with datasets in it, upgrades to the keyed search index and still
searches: its entries keep their text, facets, visibility and ids."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from healthgate import migrate
from healthgate.catalogue import service
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity.permissions import SYSTEM
from healthgate.search import facets
from healthgate.search.engine import Filters, search
from tests.conftest import PG_URL, Database, load_fixture

ROWS = [
    # title, abstract, keywords, custodian, visible, geography
    ("Asthma in Welsh Children", "Primary care records of children with asthma.", "asthma ; children", "SAIL",
     True, ["Wales"]),
    ("Stroke Audit", "Every stroke admission in England.", "stroke ; audit", "HQIP", True, ["England"]),
    ("Archived Asthma Study", "An asthma study withdrawn from view.", "asthma", "HQIP", False, ["England"]),
]


def _fill_first_schema(db) -> list[uuid.UUID]:
    """Rows as the first schema's code wrote them (the full-text index included)."""
    now = datetime(2025, 1, 1, tzinfo=UTC)
    ids = []
    with db.engine.begin() as c:
        team = uuid.uuid4()
        c.execute(text("INSERT INTO teams (id, slug, name, member_group, created_at) VALUES (:id, 'old', 'Old', "
                       "'ALLIANCE', :now)"), {"id": _u(db, team), "now": _t(db, now)})
        for i, (title, abstract, keywords, custodian, visible, geo) in enumerate(ROWS):
            ds, ver = uuid.uuid4(), uuid.uuid4()
            ids.append(ds)
            c.execute(text("INSERT INTO datasets (id, team_id, status, latest_version, created_at, updated_at, "
                           "row_version) VALUES (:id, :team, :status, 1, :now, :now, 1)"),
                      {"id": _u(db, ds), "team": _u(db, team), "status": "active" if visible else "archived",
                       "now": _t(db, now)})
            c.execute(text("INSERT INTO dataset_versions (id, dataset_id, number, published_at, published_by, "
                           "source_schema_version, document, schema_valid, schema_errors, quality_score, "
                           "medallion, quality, title, keywords, facets) VALUES (:id, :ds, 1, :now, 'x', "
                           "'4.0.0', '{}', true, '[]', 0.5, 'silver', '{}', :title, '[]', '{}')"),
                      {"id": _u(db, ver), "ds": _u(db, ds), "now": _t(db, now), "title": title})
            facets_json = json.dumps({"geographic_coverage": geo, "data_type": ["Cohort"], "ongoing": False})
            c.execute(text(
                "INSERT INTO search_entries (id, dataset_id, version_id, visible, seq, title, aliases, keywords, "
                "abstract, description, custodian, member_group, population_size, start_date, end_date, "
                "quality_score, medallion, updated_at, facets) VALUES (:id, :ds, :ver, :visible, :seq, :title, "
                "'', :kw, :abstract, '', :custodian, 'ALLIANCE', :pop, :start, NULL, 0.5, 'silver', :now, "
                ":facets)"),
                {"id": i + 1, "ds": _u(db, ds), "ver": _u(db, ver), "visible": visible, "seq": i + 1,
                 "title": title, "kw": keywords, "abstract": abstract, "custodian": custodian, "pop": 1000 * (i + 1),
                 "start": date(2010, 1, 1), "now": _t(db, now), "facets": facets_json})
            if db.dialect == "sqlite" and visible:
                c.execute(text("INSERT INTO dataset_fts (rowid, title, aliases, keywords, abstract, description, "
                               "custodian) SELECT id, title, aliases, keywords, abstract, description, custodian "
                               "FROM search_entries WHERE id = :id"), {"id": i + 1})
        c.execute(text("UPDATE search_state SET generation = 3"))
    return ids


def _u(db, value: uuid.UUID) -> str:
    return value.hex if db.dialect == "sqlite" else str(value)


def _t(db, value: datetime) -> object:
    return value.replace(tzinfo=None) if db.dialect == "sqlite" else value


def _first_schema(db, tmp_path) -> Database:
    """An empty database at the first schema: a new SQLite file, or a new PostgreSQL database."""
    if db.dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'first.db'}"
    else:
        name = f"hg_first_{uuid.uuid4().hex[:10]}"
        with _admin().connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine, "0001")
    return Database(url, engine, make_sessionmaker(engine))


def _admin():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def test_first_schema_with_datasets_upgrades_and_searches(db, clock, tmp_path):
    old = _first_schema(db, tmp_path)
    db = old
    try:
        ids = _fill_first_schema(db)
        migrate.upgrade(db.engine)
        facets.reset()
        with db.sessions() as s:
            r = search(s, "asthma")
            assert [h.dataset_id for h in r.items] == [ids[0]]  # the archived one stays out of search
            assert r.items[0].custodian == "SAIL" and r.items[0].member_group == "ALLIANCE"
            assert r.items[0].keywords == ["asthma", "children"] and r.items[0].population_size == 1000
            assert search(s, "").total == 2
            assert {f["value"] for f in search(s, "").facets["geography"]} == {"Wales", "England"}
            assert search(s, "", Filters({"custodian": ["HQIP"]})).total == 1
        # the upgraded index takes new versions: unarchiving puts the old entry back
        with db.sessions.begin() as s:
            s.execute(text("UPDATE dataset_versions SET document = :doc"),
                      {"doc": json.dumps(load_fixture("hdruk-4.0.0-minimal.json"))})
        with db.sessions.begin() as s:
            service.unarchive(Context(s, SYSTEM, clock), ids[2])
        with db.sessions() as s:
            assert search(s, "").total == 3
    finally:
        db.engine.dispose()
        facets.reset()
        if db.dialect == "postgresql":
            with _admin().connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{db.engine.url.database}" WITH (FORCE)'))
