"""Shared fixtures. ``db`` runs a storage test on SQLite and, when HEALTHGATE_TEST_POSTGRES_URL is set,
on PostgreSQL too (``.ci/run`` always sets it)."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from healthgate import migrate
from healthgate.clock import FixedClock
from healthgate.db import make_engine, make_sessionmaker

ROOT = Path(__file__).resolve().parents[1]
# Reference data beside a development checkout; a fresh clone does not have it. Tests read the files the
# package ships (``CORPUS``, the package's schemas) and reach for SHARED only through ``shared_file``.
SHARED = ROOT.parent / "shared" / "data"
# The real HDR UK Gateway export the package ships for the demo.
CORPUS = Path(str(resources.files("healthgate").joinpath("data/hdruk-gateway-datasets-2022.csv")))
FIXTURES = Path(__file__).parent / "catalogue" / "fixtures"
PG_URL = os.environ.get("HEALTHGATE_TEST_POSTGRES_URL")
os.environ.setdefault("HEALTHGATE_WORKER", "off")  # apps made by tests run no outbox worker unless a test asks
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="HEALTHGATE_TEST_POSTGRES_URL is not set"))]


def shared_file(relative: str) -> Path:
    """A reference file that the package does not ship; the calling test is skipped, saying which file,
    when the reference data is not beside the checkout."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"needs {relative} from the reference data ({path} is missing; the package does not ship it)")
    return path


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Database:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


@pytest.fixture(scope="session")
def _pg_database():
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    if not PG_URL:
        pytest.skip("HEALTHGATE_TEST_POSTGRES_URL is not set")
    name = f"hg_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.connect() as conn:  # rows the migrations seed (put back after each test's TRUNCATE)
        seeds = [(t, [dict(r) for r in conn.execute(t.select()).mappings()]) for t in _tables()]
    _pg_seeds[url] = [(t, rows) for t, rows in seeds if rows]
    yield url, engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_pg_seeds: dict[str, list[tuple[Table, list[dict]]]] = {}


def _tables() -> list[Table]:
    """Every table the models declare, in dependency order (referenced tables first)."""
    from healthgate import models_registry  # noqa: F401  (every domain's tables)
    from healthgate.db import Base

    return list(Base.metadata.sorted_tables)


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path) -> Database:
    from healthgate.search import facets

    facets.reset()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        yield Database(url, engine, make_sessionmaker(engine))
        engine.dispose()
        return
    url, engine = request.getfixturevalue("_pg_database")
    with engine.begin() as conn:
        # This worker's database: any other connection still inside a transaction was left open by an earlier
        # test's server thread (a request cut off by the server's shutdown) and would block the TRUNCATE.
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                          "current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"))
        conn.execute(text("SET LOCAL lock_timeout = '60s'"))
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in _tables())} RESTART IDENTITY CASCADE"))
        for table, rows in _pg_seeds.get(url, []):
            conn.execute(table.insert(), rows)
    yield Database(url, engine, make_sessionmaker(engine))


TEST_SECRET_KEY = "healthgate test secret key"  # the audit chain's key wherever a test has no app of its own


@pytest.fixture(autouse=True, scope="session")
def _audit_key():
    from healthgate.audit import keys

    keys.set_default(TEST_SECRET_KEY)


@pytest.fixture(autouse=True)
def _dispose_app_engines(monkeypatch):
    """Close the connections of every app a test made (``create_app`` opens its own engine): otherwise each
    TestClient app keeps its idle pooled connections until garbage collection, and a few hundred PostgreSQL
    tests run the server out of connections."""
    import healthgate.app as app_module

    made: list[Engine] = []
    real = app_module.make_engine

    def tracking(url: str, **kwargs):
        engine = real(url, **kwargs)
        made.append(engine)
        return engine

    monkeypatch.setattr(app_module, "make_engine", tracking)
    yield
    for engine in made:
        engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 15, 9, 30, tzinfo=UTC))


@pytest.fixture
def app(db, clock, tmp_path):
    """The app on the test's database and clock, with the default settings (a module needing others defines
    its own ``app``)."""
    from healthgate.app import create_app
    from healthgate.config import Settings

    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), clock=clock)
    yield app
    app.state.engine.dispose()


def signed_in(app, db, world, who: str):
    """A TestClient carrying a session started for ``who``, a person of ``world`` (any world whose ``ctx`` and
    ``people`` follow tests.access.harness)."""
    from fastapi.testclient import TestClient

    from healthgate.identity import sessions
    from healthgate.identity.models import User

    with db.sessions.begin() as s:
        cookie = sessions.start(world.ctx(s, "system"), s.get(User, world.people[who]), "password")
    return TestClient(app, cookies={sessions.COOKIE: cookie})


def make_token(session, clock, name: str = "test", *, admin: bool = False, roles=None, scope: str | None = None,
               email: str | None = None) -> str:
    """A person (an alliance admin, or holding ``roles``: {team_id: [Role, ...]}) and a token of theirs."""
    import uuid as _uuid

    from healthgate.context import Context
    from healthgate.identity import tokens, users
    from healthgate.identity.models import Membership
    from healthgate.identity.permissions import SYSTEM

    ctx = Context(session, SYSTEM, clock)
    user = users.create_user(ctx, email or f"{_uuid.uuid4().hex[:12]}@example.org", name, is_admin=admin,
                             verified=True)
    for team_id, held in (roles or {}).items():
        for role in held:
            session.add(Membership(team_id=team_id, user_id=user.id, role=str(role), created_at=clock.now()))
    session.flush()
    if scope is None:
        scope = "admin" if admin else ("write" if roles else "read")
    return tokens.create_token(ctx, user, name, scope=scope, teams=list(roles or {}))


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    """An empty database (no migrations run) on each backend, for migration tests: SQLite in a file, or a new
    PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield eng
        eng.dispose()
        return
    name = f"hg_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    yield eng
    eng.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
