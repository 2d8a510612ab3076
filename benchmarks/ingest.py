"""Ingest speed: import N generated records shaped like the real HDR UK Gateway corpus.

Each record is one of the 605 real corpus records (mapped to HDR UK 4.0.0 exactly as `healthgate import`
does) with a new persistent id and varied title, keywords, population and dates, so validation, quality
scoring and search indexing do the same work they do on real data. Prints records/s for SQLite and, when
HEALTHGATE_TEST_POSTGRES_URL (or --postgres URL) is given, PostgreSQL; with each, the CPU seconds this process
used and the load average, since on a shared machine wall-clock rates say as much about the neighbours.

    python benchmarks/ingest.py --records 100000
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path

from scratch import postgres_database

from healthgate import migrate
from healthgate.catalogue.importer import ImportItem, import_items
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.identity.permissions import SYSTEM
from healthgate.interop.sources import read_sources

WORDS = ["cohort", "registry", "linked", "primary care", "imaging", "genomic", "paediatric", "maternity",
         "cancer", "cardiovascular", "respiratory", "mental health", "diabetes", "stroke", "COVID-19"]


def generate(n: int, seed: int = 7) -> list[ImportItem]:
    corpus = resources.files("healthgate").joinpath("data/hdruk-gateway-datasets-2022.csv")
    with resources.as_file(corpus) as path:
        base, errors, _ = read_sources([Path(path)])
    assert not errors, errors[:3]
    rng = random.Random(seed)
    items = []
    for i in range(n):
        src = base[i % len(base)]
        doc = copy.deepcopy(src.payload)
        pid = uuid.UUID(int=rng.getrandbits(128), version=4)
        doc["identifier"] = str(pid)
        summary = doc.setdefault("summary", {})
        summary["title"] = f"{summary.get('title') or 'Dataset'} ({rng.choice(WORDS)} {i})"[:150]
        summary["keywords"] = list(summary.get("keywords") or [])[:5] + rng.sample(WORDS, 2)
        if rng.random() < 0.6:
            summary["populationSize"] = int(10 ** rng.uniform(2, 7))
        items.append(ImportItem(source=f"generated {i}", payload=doc, team=f"{src.team}",
                                member_group=src.member_group, dataset_id=pid, schema_version="4.0.0"))
    return items


def run(url: str, items: list[ImportItem], chunk: int) -> tuple[float, float]:
    """Import ``items`` into a fresh database at ``url``: (wall seconds, this process's CPU seconds)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(items), chunk):  # one transaction per chunk, as a large catalogue would be loaded
        with transaction(sessions) as session:
            report = import_items(Context(session, SYSTEM, SystemClock()), items[i:i + chunk], accept_invalid=True)
            assert report.failed == 0, report.errors[:3]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    return elapsed, cpu


def line(engine: str, n: int, elapsed: float, cpu: float) -> str:
    return (f"{engine:<11} {n} records in {elapsed:.1f} s = {n / elapsed:,.0f} records/s "
            f"(this process: {cpu:.1f} s CPU = {n / cpu:,.0f} records per CPU second; load {os.getloadavg()[0]:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=10_000, help="records per transaction")
    ap.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    t = time.perf_counter()
    items = generate(args.records)
    print(f"generated {len(items)} records in {time.perf_counter() - t:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        print(line("sqlite", len(items), *run(f"sqlite:///{tmp}/bench.db", items, args.chunk)), flush=True)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            print(line("postgresql", len(items), *run(url, items, args.chunk)), flush=True)


if __name__ == "__main__":
    main()
