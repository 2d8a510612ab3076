"""Audit log speed: bulk appends (``record_new_many``, as an import does), one event per transaction, many
concurrent writers queueing on the head, and verifying the whole log.

The baseline for bulk appends is the same rows inserted in one executemany with no chain at all (what an
unchained log would cost); the ratio says what the keyed chain adds. Prints figures for SQLite and, when
HEALTHGATE_TEST_POSTGRES_URL (or --postgres URL) is given, PostgreSQL.

    python benchmarks/audit.py --events 100000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from healthgate import migrate
from healthgate.audit import keys
from healthgate.audit import service as audit
from healthgate.audit.models import AuditEvent
from healthgate.audit.verify import verify_log
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.identity.permissions import SYSTEM, Actor


@contextmanager
def database(kind: str, pg_url: str | None) -> Iterator[Engine]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'audit.db'}")
            migrate.upgrade(engine)
            yield engine
            engine.dispose()
        return
    assert pg_url
    name = f"hg_bench_audit_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(pg_url).set(database=name).render_as_string(hide_password=False))
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _items(n: int) -> list[tuple[object, dict]]:
    return [(uuid.uuid4(), {"version": 1, "source": f"generated {i}", "team": "SAIL", "schema_version": "4.0.0",
                            "quality_score": 61.5}) for i in range(n)]


def run(kind: str, engine: Engine, events: int, singles: int, writers: int, per_writer: int) -> None:
    sessions, clock = make_sessionmaker(engine), SystemClock()
    now = datetime.now(UTC)
    rows = [{"seq": -i - 1, "at": now, "actor_id": None, "actor": "system", "token_id": None,
             "action": "dataset.imported", "subject_type": "dataset", "subject_id": str(s), "data": d,
             "prev_hash": None, "hash": "0" * 64} for i, (s, d) in enumerate(_items(events))]
    with transaction(sessions) as s:  # the baseline: the same rows, no chain; rolled back
        t0 = time.perf_counter()
        s.connection().execute(insert(AuditEvent), rows)
        base = time.perf_counter() - t0
        s.rollback()
    items = _items(events)
    with transaction(sessions) as s:
        t0 = time.perf_counter()
        audit.record_new_many(Context(s, SYSTEM, clock), "dataset.imported", "dataset", items, at=now)
        s.flush()
        bulk = time.perf_counter() - t0
    print(f"{kind:10} bulk append   {events:>7} events  {bulk:6.2f} s  {events / bulk:9.0f} events/s   "
          f"unchained insert {base:5.2f} s  (chain adds x{bulk / base:.2f})")
    t0 = time.perf_counter()
    for i in range(singles):
        with transaction(sessions) as s:
            audit.record(Context(s, SYSTEM, clock), "team.updated", "team", i % 50, {"i": i})
    single = time.perf_counter() - t0
    print(f"{kind:10} one per tx    {singles:>7} events  {single:6.2f} s  {singles / single:9.0f} events/s")
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        actor = Actor(name=f"writer {n}", user_id=uuid.uuid4())
        try:
            for i in range(per_writer):
                with transaction(sessions) as s:
                    audit.record(Context(s, actor, clock), "dataset.draft_updated", "dataset", f"{n}", {"i": i})
        except Exception as exc:  # noqa: BLE001  (counted and printed)
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    concurrent = time.perf_counter() - t0
    total = writers * per_writer
    print(f"{kind:10} {writers} writers     {total:>7} events  {concurrent:6.2f} s  {total / concurrent:9.0f} "
          f"events/s   failed transactions: {len(failures)}")
    with engine.connect() as conn:
        t0 = time.perf_counter()
        report = verify_log(conn)
        took = time.perf_counter() - t0
    expected = events + singles + total - len(failures)
    print(f"{kind:10} verify        {report.checked:>7} entries {took:6.2f} s  {report.checked / took:9.0f} "
          f"entries/s   intact: {report.ok}  head #{report.head_seq} (expected {expected})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=250)
    parser.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    keys.set_default("benchmark secret")
    for kind in ["sqlite", *(["postgresql"] if args.postgres else [])]:
        with database(kind, args.postgres) as engine:
            run(kind, engine, args.events, args.singles, args.writers, args.per_writer)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
