"""Harvest speed: a 10,000-item HDR UK federated metadata catalogue API served locally by a real HTTP server
(``tests/federation/fakes.FmaSource``, a thread per request on 127.0.0.1), harvested into a fresh database.

The source runs in its own process (as a custodian's catalogue runs on its own machine), so that its
request handling does not compete with the harvester for one interpreter. Prints, per database: the full first harvest (items/s), the re-harvest where nothing changed (seconds; target:
under 15 s for 10,000 items), and a re-harvest after 1% of the items changed. Every run lists all pages and
reads every ``/datasets/{id}`` (change detection is by the hash of what the source sends, so nothing is
skipped unread); the figures therefore include 10,000+ HTTP requests per run.

    python benchmarks/harvest.py [--items 10000] [--page-size 100] [--concurrency 4] [--postgres URL]

PostgreSQL comes from --postgres or HEALTHGATE_TEST_POSTGRES_URL (a server where the user may create
databases); without either, SQLite only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake source: tests/federation/fakes.py

from scratch import postgres_database
from tests.federation.fakes import Answer, FmaSource, document

from healthgate import migrate
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.federation import jobs, service
from healthgate.identity import service as identity
from healthgate.identity.permissions import SYSTEM

KEYWORDS = ["cardiology", "diabetes", "renal", "oncology", "stroke", "asthma", "COPD", "dementia", "sepsis"]


def make_source(n: int) -> FmaSource:
    src = FmaSource()

    def touch(req: object) -> Answer:  # change 1% of the items (the benchmark's third run)
        for rid in list(src.encoded)[::100]:
            doc = json.loads(src.encoded[rid])
            doc["summary"]["abstract"] += " Updated."
            src.encoded[rid] = json.dumps(doc).encode()
        return Answer(200, {"touched": len(src.encoded) // 100})

    src.route("/_bench/touch", touch)
    for i in range(n):
        doc = document(f"Benchmark dataset {i:05d}", abstract=f"Routinely collected records, cohort {i}, "
                                                               f"{KEYWORDS[i % len(KEYWORDS)]} follow-up.",
                       populationSize=1000 + i)
        doc["summary"]["keywords"] = [KEYWORDS[i % len(KEYWORDS)], KEYWORDS[(i * 7) % len(KEYWORDS)]]
        src.add(f"bench-{i:05d}", doc)
        src.encoded[f"bench-{i:05d}"] = json.dumps(doc).encode()
    return src


def serve(n: int, ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    src = make_source(n)
    ready.put(src.url)
    src.server.serve_forever()


def run_on(url: str, label: str, src_url: str, n: int, page_size: int, concurrency: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    clock = SystemClock()
    with sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        team = identity.get_or_create_team(ctx, "Benchmark Custodian", member_group="ALLIANCE")
        source_id = service.create_source(ctx, team.id, name=f"bench-{uuid.uuid4().hex[:6]}", kind="hdruk-fma", url=src_url,
                                          settings={"page_size": page_size, "concurrency": concurrency}).id

    def once(what: str) -> float:
        with sessions.begin() as s:
            job_id = service.enqueue(Context(s, SYSTEM, clock), source_id).id
        start = time.perf_counter()
        job = jobs.run_now(sessions, clock, job_id)
        took = time.perf_counter() - start
        n = job.counts["listed"]
        print(f"  {label:10} {what:28} {took:7.2f} s  {n / took:8.0f} items/s  state {job.state}; "
              + ", ".join(f"{k} {job.counts[k]}" for k in ("created", "updated", "unchanged", "failed"))
              + f"; {job.counts['requests']} requests", flush=True)
        return took

    once("full harvest")
    unchanged = once("re-harvest, nothing changed")
    httpx.post(f"{src_url}/_bench/touch", timeout=60)
    once("re-harvest, 1% changed")
    verdict = "under" if unchanged < 15 else "OVER"
    print(f"  {label:10} unchanged re-harvest of {n}: {unchanged:.2f} s ({verdict} the 15 s target)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"))
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()

    ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(target=serve, args=(args.items, ready), daemon=True)
    server.start()
    src_url = ready.get(timeout=300)
    print(f"source: {args.items} items at {src_url} (its own process); page size {args.page_size}, "
          f"{args.concurrency} detail requests in flight", flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_on(f"sqlite:///{Path(tmp) / 'bench.db'}", "sqlite", src_url, args.items, args.page_size,
                   args.concurrency)
        if args.postgres and not args.sqlite_only:
            with postgres_database(args.postgres, "hg_bench_harvest") as url:
                run_on(url, "postgresql", src_url, args.items, args.page_size, args.concurrency)
    finally:
        server.terminate()



if __name__ == "__main__":
    main()
