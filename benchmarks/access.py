"""Access-request commands under concurrency: C clients (threads, one HTTP connection each) send command streams
over HTTP to a real `healthgate serve` (uvicorn, one process, as shipped) on a fresh PostgreSQL database.

Each client applies R times. One application's stream, through the API with each person's own token:

    create (datasets of two custodians) -> save (If-Match) -> a deliberately stale save (version 1: 409)
    -> submit -> custodian A assigns a reviewer WHILE custodian B returns it (two threads, the same version
    read: one lands, the other gets 412 and retries after reading again) -> resubmit -> A's reviewer reviews
    -> A approves with conditions WHILE B rejects (again racing)

Prints commands/s, p50/p95/p99 latency of the commands (2xx, 409 and 412 alike), the count of each status,
and checks the logs in the database: every application's events are numbered 1..n without gaps and n is
exactly its creation plus the commands that were answered 2xx (none lost, none duplicated). Target: p95 <= 100
ms (reported, not asserted); the script exits non-zero only for lost or duplicated events.

    python benchmarks/access.py [--clients 50] [--rounds 4] [--think SECONDS] [--postgres URL]

With ``--think 0`` (the default) each client sends its next command as soon as the last is answered: the
server's saturation throughput, where latency is queueing. ``--think S`` pauses each client a random
(exponential) S seconds on average before each command, as people reading a page do: latency at that load.

PostgreSQL comes from --postgres or HEALTHGATE_TEST_POSTGRES_URL (a server where the user may create databases).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test world: tests/access/harness.py

from tests.access.harness import Q1, build

from healthgate import migrate
from healthgate.access.models import ApplicationEvent
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity import tokens, users
from healthgate.identity.models import User
from healthgate.identity.permissions import SYSTEM

BIN = Path(sys.executable).parent
RETRIES = 8


@dataclass
class Tally:
    """What every client saw, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)  # seconds, commands only
    statuses: Counter[int] = field(default_factory=Counter)
    landed: Counter[str] = field(default_factory=Counter)  # application id -> commands answered 2xx
    uncertain: set[str] = field(default_factory=set)  # a command whose answer never came: not counted
    lost_creations: int = 0  # creations whose answer never came (their ids are unknown)
    unexpected: list[str] = field(default_factory=list)

    def record(self, seconds: float, status: int, app_id: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] += 1
            if app_id and 200 <= status < 300:
                self.landed[app_id] += 1


@dataclass
class Bench:
    base: str
    auth: dict[str, str]  # who -> token
    people: dict[str, str]
    datasets: dict[str, str]
    teams: dict[str, str]
    tally: Tally
    think: float = 0.0  # mean pause (s) before each command, as a person reading the page; 0: none

    def client(self) -> httpx.Client:
        # idle connections dropped before the server's keep-alive (5 s) would close them under our feet
        return httpx.Client(base_url=self.base, timeout=60, limits=httpx.Limits(keepalive_expiry=1))

    def send(self, http: httpx.Client, who: str, method: str, url: str, body: Any = None,
             app_id: str | None = None, **headers: str) -> httpx.Response:
        if method == "POST" and self.think:
            time.sleep(random.expovariate(1 / self.think))  # exponential pauses: arrivals as from many people
        start = time.perf_counter()
        try:
            answer = http.request(method, url, json=body, headers={"Authorization": f"Bearer {self.auth[who]}",
                                                                    **headers})
        except httpx.TransportError as exc:
            with self.tally.lock:
                self.tally.unexpected.append(f"{method} {url}: {exc!r}")
                if app_id:
                    self.tally.uncertain.add(app_id)
                elif url == "/api/v1/applications":
                    self.tally.lost_creations += 1
            raise
        if method == "POST":  # every POST is a command (or the creation, itself an event)
            if answer.status_code >= 500:
                self.tally.unexpected.append(f"{method} {url}: {answer.status_code} {answer.text[:200]}")
            created = answer.json().get("id") if answer.status_code == 201 else None
            self.tally.record(time.perf_counter() - start, answer.status_code, app_id or created)
        return answer

    def version(self, http: httpx.Client, who: str, app_id: str) -> int:
        for attempt in range(3):  # a read may be sent again
            try:
                answer = http.get(f"/api/v1/applications/{app_id}",
                                  headers={"Authorization": f"Bearer {self.auth[who]}"})
            except httpx.TransportError:
                if attempt == 2:
                    raise
                continue
            if answer.status_code == 200:
                return int(answer.json()["version"])
            with self.tally.lock:
                self.tally.statuses[answer.status_code] += 1
                self.tally.unexpected.append(f"GET {app_id}: {answer.status_code} {answer.text[:200]}")
        raise httpx.TransportError(f"could not read application {app_id}")

    def command(self, http: httpx.Client, who: str, app_id: str, command: str, body: dict[str, Any],
                version: int) -> int:
        """Run a command with If-Match; on 409/412 read again and retry. Returns the version after it."""
        for _ in range(RETRIES):
            answer = self.send(http, who, "POST", f"/api/v1/applications/{app_id}/commands/{command}", body,
                               app_id, **{"If-Match": f'"v{version}"'})
            if answer.status_code == 200:
                return int(answer.json()["version"])
            if answer.status_code not in (409, 412):
                self.tally.unexpected.append(f"{who} {command}: {answer.status_code} {answer.text[:200]}")
                return version
            version = self.version(http, who, app_id)
        self.tally.unexpected.append(f"{who} {command}: still conflicting after {RETRIES} tries")
        return version

    def stream(self, applicant: str) -> None:
        try:
            self._stream(applicant)
        except httpx.TransportError:
            pass  # recorded; the application's log is then left out of the count

    def _stream(self, applicant: str) -> None:
        """One application from creation to two decisions, with races between the two custodians."""
        with self.client() as http, self.client() as other:
            created = self.send(http, applicant, "POST", "/api/v1/applications", {
                "dataset_ids": [self.datasets["A1"], self.datasets["B1"]], "title": "Benchmark study"})
            if created.status_code != 201:
                self.tally.unexpected.append(f"create: {created.status_code} {created.text[:200]}")
                return
            app_id = created.json()["id"]
            v = self.command(http, applicant, app_id, "save", {"answers": {Q1: "Outcomes after stroke"}, "title": "Echo"}, 1)
            stale = self.send(http, applicant, "POST", f"/api/v1/applications/{app_id}/commands/save",
                              {"title": "a lost update", "version": 1}, app_id)
            if stale.status_code != 409:
                self.tally.unexpected.append(f"stale save answered {stale.status_code}")
            v = self.command(http, applicant, app_id, "submit", {}, v)
            with ThreadPoolExecutor(2) as pool:  # both custodians act on the version they read
                a = pool.submit(self.command, http, "manager_A", app_id, "assign_reviewers",
                                {"reviewers": [self.people["reviewer_A"]], "due": "2026-12-01"}, v)
                b = pool.submit(self.command, other, "manager_B", app_id, "return", {"reason": "More detail"}, v)
                v = max(a.result(), b.result())
            v = self.command(http, applicant, app_id, "resubmit", {}, self.version(http, applicant, app_id))
            v = self.command(http, "reviewer_A", app_id, "review", {"recommendation": "approve"}, v)
            with ThreadPoolExecutor(2) as pool:
                a = pool.submit(self.command, http, "manager_A", app_id, "approve_with_conditions",
                                {"conditions": ["Outputs checked"]}, v)
                b = pool.submit(self.command, other, "manager_B", app_id, "reject", {"reason": "Out of scope"}, v)
                a.result(), b.result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(db_url: str, data_dir: Path) -> Iterator[str]:
    """`healthgate serve` on a free port of 127.0.0.1 until the block ends."""
    port = free_port()
    env = {**os.environ, "HEALTHGATE_DATABASE_URL": db_url, "HEALTHGATE_DATA_DIR": str(data_dir),
           "HEALTHGATE_WORKER": "off", **{f"HEALTHGATE_RATE_LIMIT_{k}": "off"
                                          for k in ("ANONYMOUS", "EXPENSIVE", "FAILED_AUTH")}}
    log = data_dir / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BIN / "healthgate"), "serve", "--port", str(port)], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"healthgate serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(base + "/api/v1/teams", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if os.environ.get("HEALTHGATE_BENCH_KEEP_LOG"):
            shutil.copyfile(log, os.environ["HEALTHGATE_BENCH_KEEP_LOG"])
        errors = [line for line in log.read_text(errors="replace").splitlines() if "Error" in line]
        if errors:
            print(f"server errors ({len(errors)}), first: " + " | ".join(dict.fromkeys(errors))[:1500])


def seed(db_url: str, clients: int) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    """Two custodian teams with public datasets, their managers and reviewers, and one applicant per client,
    each with a token of their own (applicants: a personal write token)."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    clock = SystemClock()
    w = build(sessions, clock)
    auth: dict[str, str] = {}
    with sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        for who in ("manager_A", "reviewer_A", "manager_B", "reviewer_B"):
            team = w.teams[who[-1]]
            auth[who] = tokens.create_token(ctx, s.get(User, w.people[who]), "bench", scope="write", teams=[team])
        for i in range(clients):
            person = users.create_user(ctx, f"applicant{i}@example.org", f"Applicant {i}", verified=True)
            auth[f"applicant{i}"] = tokens.create_token(ctx, person, "bench", scope="write")
    engine.dispose()
    return (auth, {k: str(v) for k, v in w.people.items()}, {k: str(v) for k, v in w.datasets.items()},
            {k: str(v) for k, v in w.teams.items()})


def verify(db_url: str, tally: Tally) -> tuple[int, int, int, int]:
    """(applications, events, lost, duplicated): each log numbered 1..n, n = 1 (created) + its 2xx commands.
    An application whose creation's answer never came may be there unknown to the clients: as many of those
    as such creations are not counted."""
    landed, uncertain = tally.landed, tally.uncertain
    engine = make_engine(db_url)
    with engine.connect() as conn:
        seqs: dict[str, list[int]] = {}
        for app_id, seq in conn.execute(select(ApplicationEvent.application_id, ApplicationEvent.seq)
                                        .order_by(ApplicationEvent.application_id, ApplicationEvent.seq)):
            seqs.setdefault(str(app_id), []).append(seq)
    engine.dispose()
    lost = duplicated = 0
    unknown = [a for a in seqs if a not in landed and a not in uncertain and seqs[a] == [1]]
    uncertain = uncertain | set(unknown[:tally.lost_creations])
    for app_id in set(seqs) | set(landed):
        found = seqs.get(app_id, [])
        if app_id in uncertain:  # still gap-free, but its count is unknown
            lost += 0 if found == list(range(1, len(found) + 1)) else 1
            continue
        if found != list(range(1, len(found) + 1)):
            duplicated += len(found) - len(set(found))
            lost += len(set(range(1, max(found, default=0) + 1)) - set(found))
        expected = landed.get(app_id, 0)  # the creation's 201 counts as its "created" event
        lost += max(0, expected - len(found))
        duplicated += max(0, len(found) - expected)
    return len(seqs), sum(len(v) for v in seqs.values()), lost, duplicated


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4, help="applications per client")
    parser.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"))
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean pause in seconds before each command (0: each client sends as fast as answered)")
    args = parser.parse_args()
    if not args.postgres:
        sys.exit("give --postgres or set HEALTHGATE_TEST_POSTGRES_URL")
    load = os.getloadavg()
    print(f"access commands: {args.clients} clients x {args.rounds} applications over HTTP to one `healthgate serve`"
          f" on PostgreSQL; {'no pause' if not args.think else f'a mean pause of {args.think:g} s'} before each "
          f"command; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    name = f"hg_bench_access_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(db_url)
        migrate.upgrade(engine)
        engine.dispose()
        auth, people, datasets, teams = seed(db_url, args.clients)
        tally = Tally()
        with tempfile.TemporaryDirectory() as tmp, server(db_url, Path(tmp)) as base:
            bench = Bench(base, auth, people, datasets, teams, tally, args.think)
            bench.stream("applicant0")  # one stream first, untimed: imports and connection pools warm up
            tally.latencies.clear()
            tally.statuses.clear()
            start = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                runs = [pool.submit(lambda i=i: [bench.stream(f"applicant{i}") for _ in range(args.rounds)])
                        for i in range(args.clients)]
                for run in runs:
                    run.result()
            elapsed = time.perf_counter() - start
        apps, events, lost, duplicated = verify(db_url, tally)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    n = len(tally.latencies)
    codes = ", ".join(f"{code}: {count}" for code, count in sorted(tally.statuses.items()))
    print(f"{n} commands in {elapsed:.1f} s = {n / elapsed:.0f} commands/s; latency p50 {pct(tally.latencies, .5):.0f}"
          f" ms, p95 {pct(tally.latencies, .95):.0f} ms, p99 {pct(tally.latencies, .99):.0f} ms, mean "
          f"{1000 * statistics.fmean(tally.latencies):.0f} ms (target p95 <= 100 ms)")
    print(f"answers: {codes}")
    print(f"logs: {apps} applications, {events} events; lost {lost}, duplicated {duplicated}"
          + (f" ({len(tally.uncertain)} applications left out: a command's answer never came)"
             if tally.uncertain else ""))
    if tally.unexpected:
        print(f"unexpected answers ({len(tally.unexpected)}): " + "; ".join(tally.unexpected[:5]))
    if lost or duplicated:
        print("FAILED: events were lost or duplicated")
        sys.exit(1)


if __name__ == "__main__":
    main()
