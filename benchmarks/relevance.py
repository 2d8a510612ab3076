"""Ranking quality: MRR@10 and success@5 of tests/search/relevance.json over the real 605-dataset corpus, on
SQLite and (with --postgres or HEALTHGATE_TEST_POSTGRES_URL) PostgreSQL.

Each engine is measured twice: as shipped (at 605 records every query has few enough matches to be scored
by the database: bm25 / ts_rank_cd), and with every query forced through the in-memory scoring that large
catalogues use for common words (``search.headindex``), so the quality of that path is measured too.

    python benchmarks/relevance.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from healthgate import migrate
from healthgate.catalogue.importer import import_items
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity.permissions import SYSTEM
from healthgate.interop.sources import read_sources
from healthgate.search import backend, facets
from healthgate.search.engine import search

ROOT = Path(__file__).resolve().parents[1]
JUDGMENTS = json.loads((ROOT / "tests" / "search" / "relevance.json").read_text())
CORPUS = ROOT / "src" / "healthgate" / "data" / "hdruk-gateway-datasets-2022.csv"


def evaluate(sessions) -> tuple[float, float]:
    rr, hits = 0.0, 0
    with sessions() as s:
        for j in JUDGMENTS:
            ranked = [str(h.dataset_id) for h in search(s, j["query"], per_page=10).items]
            first = next((i for i, d in enumerate(ranked) if d in set(j["relevant"])), None)
            rr += 1 / (first + 1) if first is not None else 0.0
            hits += first is not None and first < 5
    return rr / len(JUDGMENTS), hits / len(JUDGMENTS)


def measure(url: str, label: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    items, errors, _ = read_sources([CORPUS])
    assert not errors
    with sessions.begin() as s:
        import_items(Context(s, SYSTEM, SystemClock()), items, accept_invalid=True)
    be = backend.for_engine(engine)
    shipped = be.rank_limit
    for name, limit in (("as shipped", shipped), ("in-memory scoring", 0)):
        be.rank_limit = limit
        facets.reset()
        mrr, s5 = evaluate(sessions)
        print(f"{label:10s} {name:18s} {len(JUDGMENTS)} queries  MRR@10 = {mrr:.3f}  success@5 = {s5:.3f}")
    be.rank_limit = shipped
    engine.dispose()


@contextmanager
def postgres_database(admin_url: str):
    name = f"hg_rel_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{tmp}/rel.db", "sqlite")
    if args.postgres:
        with postgres_database(args.postgres) as url:
            measure(url, "postgresql")


if __name__ == "__main__":
    main()
