"""Outbox delivery: N queued emails delivered by W `healthgate worker` processes on one PostgreSQL database to a
local SMTP sink (aiosmtpd on 127.0.0.1, from the test extra). Prints the time from the commit that queued the
emails to the last one recorded as sent, messages/s, duplicates (extra copies the sink received), lost (queued
but never received) and how many each worker sent; then the same with one worker, as the baseline measured in
the same run. A fresh database is made for each run and dropped afterwards.

    python benchmarks/outbox.py [--messages 1000] [--workers 2] [--postgres URL] [--sqlite]

PostgreSQL comes from --postgres or HEALTHGATE_TEST_POSTGRES_URL (a server where the user may create
databases); --sqlite also runs the same on a SQLite file (one claimer at a time).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test harness: tests/outbox/harness.py

from tests.outbox.harness import Delivery, deliver_with_workers

from healthgate import migrate
from healthgate.db import make_engine


def _postgres_run(url: str, messages: int, workers: int) -> Delivery:
    name = f"hg_bench_outbox_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(db_url)
        migrate.upgrade(engine)
        engine.dispose()
        with tempfile.TemporaryDirectory() as tmp:
            return deliver_with_workers(db_url, messages, workers, Path(tmp))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _sqlite_run(messages: int, workers: int) -> Delivery:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        return deliver_with_workers(url, messages, workers, Path(tmp))


def _report(label: str, d: Delivery, baseline: Delivery | None = None) -> None:
    ratio = f"  ({d.rate / baseline.rate:.2f} x one worker)" if baseline and baseline.rate else ""
    print(f"{label:<28} {d.queued} emails in {d.seconds:6.2f} s = {d.rate:7.0f} messages/s{ratio}; "
          f"received {d.received}, duplicates {d.duplicates}, lost {d.lost}; "
          f"sent per worker {sorted(d.per_worker.values(), reverse=True)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"))
    parser.add_argument("--sqlite", action="store_true", help="also run on a SQLite file")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"outbox delivery: {args.messages} emails to an SMTP sink on 127.0.0.1; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    runs: list[tuple[str, Delivery]] = []
    if args.postgres:
        base = _postgres_run(args.postgres, args.messages, 1)
        _report("PostgreSQL, 1 worker", base)
        many = _postgres_run(args.postgres, args.messages, args.workers)
        _report(f"PostgreSQL, {args.workers} workers", many, base)
        runs += [("PostgreSQL", base), ("PostgreSQL", many)]
    else:
        print("no PostgreSQL (give --postgres or set HEALTHGATE_TEST_POSTGRES_URL)")
    if args.sqlite or not args.postgres:
        base = _sqlite_run(args.messages, 1)
        _report("SQLite, 1 worker", base)
        many = _sqlite_run(args.messages, args.workers)
        _report(f"SQLite, {args.workers} workers", many, base)
        runs += [("SQLite", base), ("SQLite", many)]
    bad = [(label, d) for label, d in runs if d.duplicates or d.lost]
    if bad:
        print("FAILED: " + "; ".join(f"{label}: {d.duplicates} duplicates, {d.lost} lost" for label, d in bad))
        sys.exit(1)


if __name__ == "__main__":
    main()
