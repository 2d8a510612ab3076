"""Search speed over HTTP: healthgate's ranked, faceted search against a Datasette baseline on the same rows.

Method, in one run:

1. Build a catalogue of --records generated datasets (``benchmarks/ingest.py``'s ``generate``: real HDR UK
   corpus records with new ids and varied titles, keywords and populations) in a fresh SQLite file and, when
   --postgres URL or HEALTHGATE_TEST_POSTGRES_URL is given, in a fresh PostgreSQL database (dropped after).
2. Serve each with ``healthgate serve`` (one uvicorn worker, as shipped) on a free 127.0.0.1 port.
3. The baseline: the same visible rows copied from healthgate's ``search_entries`` into one flat table
   ``datasets`` (keywords and geography as JSON arrays, their spelling unified case-insensitively as
   healthgate's facets do), FTS5 (porter stemming) over title, aliases, keywords, abstract, description and
   custodian made by sqlite-utils, served by ``datasette serve -i`` (immutable, one process, suggested
   facets off; facet and SQL time limits raised to 10 s so that no answer is silently cut short).
4. The workload (seeded, the same requests for every server): 400 requests, each a query of one realistic
   health term (or two, 20%) drilled down by one or two (50/50) facet values of four facets: custodian,
   member_group, keyword and geography. Each value is picked among the ten commonest of its facet in the
   counts healthgate returns for what is already selected, as a user clicking facets would, so requests
   have hits. "Four facets" means: every request filters on one or two of those four and every answer
   carries the counts of all four over its hits (healthgate always computes all nine of its facets;
   Datasette is asked for exactly these four with ``_facet`` / ``_facet_array``). Ten hits per page:
       healthgate: /api/v1/search/datasets?q=asthma&keyword=cohort&per_page=10
       datasette:  /bench/datasets.json?_search=asthma&keywords__arraycontains=cohort&_facet=custodian
                   &_facet=member_group&_facet_array=keywords&_facet_array=geography&_size=10
   The work per request is not identical: healthgate ranks by BM25 (FTS5's, or the same in memory)
   with title and phrase bonuses, expands medical synonyms, makes snippets, adds partial matches when
   fewer than 5 datasets match every term, and counts each facet ignoring its own selection; Datasette
   returns matches in id order and counts facets over the filtered rows, so it finds fewer hits (median
   hits and the share of answers without any are printed per server). Healthgate, unlike Datasette,
   caches text matches (see 5).
5. Every server is a fresh process (the workload is picked on one used for nothing else). Latency, one
   httpx client: the 300 first requests in sequence (p50, p95, mean, the three slowest), then the same
   300 again (p50, p95, mean). The passes differ because healthgate caches each query's text match in
   its process (until the next catalogue write): the first pass pays for every new query text, the
   second is the steady state of a read-only catalogue, which the workload's 24-term vocabulary reaches
   fast. Throughput: --clients threads, each with its own httpx.Client, for --duration seconds (requests/s
   and p95), warm. Only complete answers count: a non-200 status, a transport error or an answer missing
   one of the four facets is counted and printed per server, never timed.

6. Before and after: with --baseline-ref (default ``a220dce``, the last release before search served every kind
   of record), that git ref is exported (``git archive``) and each database is built and served again by
   that code (``PYTHONPATH`` pointing at the export's ``src``), with the same generated records and the same
   workload, so the before, after and Datasette figures come from one run on one machine.

Client and server share the machine (its core count is printed), so figures are for comparing servers
under the same conditions, not absolute capacity.

    python benchmarks/search.py --records 100000 --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import httpx
import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from healthgate.catalogue.indexing import population_bucket

_spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).resolve().parent / "ingest.py")
ingest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ingest)

BIN = Path(sys.executable).parent
TERMS = ["cancer", "diabetes", "asthma", "covid", "heart failure", "mental health", "children", "stroke",
         "primary care", "hospital admissions", "registry", "cohort", "imaging", "genomic", "pregnancy",
         "dementia", "hip replacement", "biobank", "prescriptions", "mortality", "obesity", "kidney",
         "vaccination", "emergency"]
# facet -> (healthgate filter parameter, Datasette filter parameter, Datasette facet parameter)
FACETS = {"custodian": ("custodian", "custodian", ("_facet", "custodian")),
          "member_group": ("member_group", "member_group", ("_facet", "member_group")),
          "keyword": ("keyword", "keywords__arraycontains", ("_facet_array", "keywords")),
          "geography": ("geography", "geography__arraycontains", ("_facet_array", "geography"))}
DS_FACET_NAMES = ("custodian", "member_group", "keywords", "geography")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(url: str, items: list, chunk: int, label: str) -> None:
    elapsed, _cpu = ingest.run(url, items, chunk)
    print(f"loaded {len(items):,} records into {label} in {elapsed:.1f} s ({len(items) / elapsed:,.0f}/s)")


BASELINE_LOAD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("bench_ingest", sys.argv[1])
ingest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ingest)
items = ingest.generate(int(sys.argv[3]))
print(ingest.run(sys.argv[2], items, int(sys.argv[4])))
"""


def export_ref(ref: str, target: Path) -> Path:
    """The source tree of a git ref, for serving the "before" figures."""
    root = Path(__file__).resolve().parents[1]
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(root), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def load_with(src: Path, url: str, records: int, chunk: int, label: str) -> None:
    """Load the same generated records with another version's code (its own migrations and importer)."""
    env = {**os.environ, "PYTHONPATH": str(src / "src")}
    out = subprocess.run([sys.executable, "-c", BASELINE_LOAD, str(src / "benchmarks" / "ingest.py"), url,
                          str(records), str(chunk)], env=env, check=True, capture_output=True, text=True)
    elapsed = float(out.stdout.strip().splitlines()[-1])
    print(f"loaded {records:,} records into {label} in {elapsed:.1f} s ({records / elapsed:,.0f}/s)")


@contextmanager
def server(cmd: list[str], env: dict[str, str], port: int, probe: str, log: Path):
    """Run a server in a subprocess until it answers ``probe`` with 200; stop it on exit."""
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: {log.read_text()[-2000:]}")
            if time.perf_counter() - start > 300:
                raise RuntimeError(f"{cmd[0]} did not answer within 300 s")
            t = time.perf_counter()
            try:
                r = httpx.get(base + probe, timeout=120)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            if r.status_code != 200:
                raise RuntimeError(f"{base + probe} answered {r.status_code}: {r.text[:500]}")
            break
        print(f"  serving after {time.perf_counter() - start:.1f} s "
              f"(first search {1000 * (time.perf_counter() - t):.0f} ms)")
        yield base, r.json()
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def workload(base: str, n: int = 400, seed: int = 11) -> list[tuple[str, list[tuple[str, str]]]]:
    """Drill-down requests: a query, then one or two facet values, each picked among the ten commonest of
    its facet in the counts of what is already selected, as a user clicking facets would."""
    rng = random.Random(seed)
    cache: dict[tuple, dict] = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        def counts(q: str, filters: list[tuple[str, str]]) -> dict:
            if (q, tuple(filters)) not in cache:
                path, params = hg_request(q, filters)
                cache[q, tuple(filters)] = client.get(path, params=params).raise_for_status().json()["facets"]
            return cache[q, tuple(filters)]

        reqs = []
        for _ in range(n):
            q = rng.choice(TERMS) if rng.random() < 0.8 else " ".join(rng.sample(TERMS, 2))
            filters: list[tuple[str, str]] = []
            want = rng.choice([1, 2])
            for name in rng.sample(list(FACETS), len(FACETS)):  # skip facets without values
                if len(filters) == want:
                    break
                top = sorted((e for e in counts(q, filters)[name] if e["count"]), key=lambda e: -e["count"])
                if top:
                    filters.append((name, rng.choice(top[:10])["value"]))
            reqs.append((q, filters))
    return reqs


def hg_request(q: str, filters: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    return "/api/v1/search/datasets", [("q", q), *((FACETS[f][0], v) for f, v in filters), ("per_page", "10")]


def ds_request(q: str, filters: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    params = [("_search", q), *((FACETS[f][1], v) for f, v in filters), *(f[2] for f in FACETS.values())]
    return "/bench/datasets.json", params + [("_size", "10"), ("_nocol", "description")]


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)


def send(client: httpx.Client, kind: str, req: tuple, stats: Stats) -> None:
    path, params = req
    t = time.perf_counter()
    try:
        r = client.get(path, params=params)
    except httpx.HTTPError as e:
        stats.failures[type(e).__name__] += 1
        return
    elapsed = time.perf_counter() - t
    if r.status_code != 200:
        stats.failures[f"HTTP {r.status_code}"] += 1
        return
    body = orjson.loads(r.content)
    if kind == "healthgate":
        facets, total, wanted = body.get("facets") or {}, body.get("total"), FACETS
    else:
        facets, total = body.get("facet_results") or {}, body.get("filtered_table_rows_count")
        wanted = DS_FACET_NAMES
    if total is None or any(name not in facets for name in wanted):
        stats.failures["200 without total or facets"] += 1
        return
    stats.latencies.append(elapsed)
    stats.hits.append(total)


def pct(xs: list[float], p: float) -> float:
    return 1000 * sorted(xs)[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


def summary(stats: Stats) -> str:
    return (f"p50 {pct(stats.latencies, 50):.1f} ms, p95 {pct(stats.latencies, 95):.1f} ms, "
            f"mean {1000 * statistics.fmean(stats.latencies or [float('nan')]):.1f} ms")


def measure(base: str, kind: str, work: list, clients: int, duration: float) -> dict:
    reqs = [(hg_request if kind == "healthgate" else ds_request)(*r) for r in work]
    first, warm, timed = Stats(), Stats(), []
    with httpx.Client(base_url=base, timeout=120) as c:
        for k in range(300):  # a fresh server: each query's text match is computed the first time it is seen
            before = len(first.latencies)
            send(c, kind, reqs[k], first)
            timed += [k] * (len(first.latencies) - before)
        for k in range(300):  # the same requests again: warm (healthgate caches text matches per query)
            send(c, kind, reqs[k], warm)
    print(f"  1 client, first pass: {summary(first)}; slowest: " + "; ".join(
        f"{1000 * t:.0f} ms {work[k]}" for t, k in sorted(zip(first.latencies, timed))[:-4:-1]))
    print(f"  1 client, same {len(warm.latencies)} again: {summary(warm)}")
    per_thread = [Stats() for _ in range(clients)]
    start = time.perf_counter()
    deadline = start + duration

    def worker(i: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as c:
            k = i * len(reqs) // clients
            while time.perf_counter() < deadline:
                send(c, kind, reqs[k % len(reqs)], per_thread[i])
                k += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    loaded = Stats([x for s in per_thread for x in s.latencies], [x for s in per_thread for x in s.hits],
                   sum((s.failures for s in per_thread), Counter()))
    rps = len(loaded.latencies) / wall
    print(f"  {clients} clients: {rps:.1f} req/s, p50 {pct(loaded.latencies, 50):.1f} ms, "
          f"p95 {pct(loaded.latencies, 95):.1f} ms over {len(loaded.latencies)} requests in {wall:.1f} s")
    failures = first.failures + warm.failures + loaded.failures
    print(f"  failed requests: {sum(failures.values())}" + (f" {dict(failures)}" if failures else ""))
    hits = first.hits + loaded.hits
    return {"p50_1st": pct(first.latencies, 50), "p95_1st": pct(first.latencies, 95),
            "p50": pct(warm.latencies, 50), "p95": pct(warm.latencies, 95), "rps": rps,
            "p95_load": pct(loaded.latencies, 95), "failed": sum(failures.values()),
            "hits": statistics.median(hits) if hits else float("nan"),
            "zero": sum(h == 0 for h in hits) / len(hits) if hits else float("nan")}


def build_datasette_db(source: Path, target: Path) -> int:
    """Copy the visible search entries into one flat table with FTS5, as a Datasette user would publish it."""
    import sqlite_utils

    src = sqlite3.connect(source)
    rows = []
    for (id_, title, aliases, kw, abstract, description, custodian, data) in (
            src.execute("SELECT id, title, aliases, keywords, abstract, description, owner, data "
                        "FROM search_entries WHERE visible AND kind = 'dataset' ORDER BY id")):
        f = json.loads(data or "{}")
        rows.append({"id": id_, "title": title, "aliases": aliases,
                     "keywords": [k.strip() for k in (kw or "").split(" ; ") if k.strip()],
                     "abstract": abstract, "description": description, "custodian": custodian,
                     "member_group": f.get("member_group"),
                     "geography": [g.strip() for g in f.get("geographic_coverage") or []
                                   if isinstance(g, str) and g.strip()],
                     "lead_time": f.get("delivery_lead_time"), "medallion": f.get("medallion"),
                     "population_bucket": population_bucket(f.get("population_size"))})
    src.close()
    for col in ("keywords", "geography"):  # one spelling per value, the commonest, as healthgate's facets
        votes: dict[str, Counter] = {}
        for row in rows:
            for v in row[col]:
                votes.setdefault(v.casefold(), Counter())[v] += 1
        label = {k: c.most_common(1)[0][0] for k, c in votes.items()}
        for row in rows:
            row[col] = [label[v.casefold()] for v in row[col]]
    db = sqlite_utils.Database(target)
    db["datasets"].insert_all(rows, pk="id", batch_size=5000)
    db["datasets"].enable_fts(["title", "aliases", "keywords", "abstract", "description", "custodian"],
                              create_triggers=False, tokenize="porter")
    db.conn.execute("VACUUM")
    db.close()
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of the concurrent phase")
    ap.add_argument("--chunk", type=int, default=10_000, help="records per transaction when loading")
    ap.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"))
    ap.add_argument("--skip-datasette", action="store_true")
    ap.add_argument("--baseline-ref", default="a220dce", help="git ref served for the 'before' figures")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--baseline-same-db", action="store_true",
                    help="serve the baseline ref on the same databases (only for a ref with this checkout's schema)")
    ap.add_argument("--keep", type=Path, help="build the databases once under this directory (and a PostgreSQL "
                    "database named after it) and reuse them in later runs")
    args = ap.parse_args()
    print(f"healthgate {version('healthgate')}, {os.cpu_count()} CPUs, {args.records:,} records, "
          f"{args.clients} clients for {args.duration:.0f} s, load average {os.getloadavg()[0]:.1f}"
          + ("" if args.skip_datasette else f", datasette {version('datasette')}"))
    items: list = []

    def records() -> list:
        if not items:
            t = time.perf_counter()
            items.extend(ingest.generate(args.records))
            print(f"generated {len(items):,} records in {time.perf_counter() - t:.1f} s")
        return items

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="hg-bench-") as tmp_name:
        tmp = Path(tmp_name)
        store = args.keep or tmp
        store.mkdir(parents=True, exist_ok=True)
        kept = f"{args.records}" if args.keep else ""

        def sqlite_db(name: str, build) -> str:
            path = store / f"{name}{kept}.db"
            if not (args.keep and (store / f"{path.name}.done").exists()):
                path.unlink(missing_ok=True)
                build(f"sqlite:///{path}")
                (store / f"{path.name}.done").touch()
            else:
                print(f"reusing {path}")
            return f"sqlite:///{path}"

        # (label, database url, source tree of the code serving it: None for this checkout)
        targets: list[tuple[str, str, Path | None]] = [
            ("after sqlite", sqlite_db("healthgate", lambda url: load(url, records(), args.chunk, "SQLite")), None)]
        admin, pg_names = None, []
        base_src = None if args.skip_baseline else export_ref(args.baseline_ref, tmp / "baseline")
        try:
            if args.postgres:
                admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")

                def pg_db(name: str, build) -> str:
                    """A database of its own: fresh (dropped after the run), or kept and reused with --keep."""
                    name = f"hg_bench_{name}_{args.records}" if args.keep else f"hg_bench_{uuid.uuid4().hex[:8]}"
                    url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
                    done = store / f"{name}.done"
                    if args.keep and done.exists():
                        print(f"reusing PostgreSQL database {name}")
                        return url
                    with admin.connect() as c:
                        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                        c.execute(text(f'CREATE DATABASE "{name}"'))
                    if not args.keep:
                        pg_names.append(name)
                    build(url)
                    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as c:
                        c.execute(text("VACUUM ANALYZE"))  # as a database that has been running a while
                    if args.keep:
                        done.touch()
                    return url

                targets.append(("after postgresql",
                                pg_db("pg", lambda url: load(url, records(), args.chunk, "PostgreSQL")), None))
            if base_src is not None:
                if args.baseline_same_db:  # the same databases, served by the baseline's code
                    targets += [(label.replace("after", "before"), url, base_src) for label, url, _ in list(targets)]
                else:
                    targets.append(("before sqlite", sqlite_db("baseline", lambda url: load_with(
                        base_src, url, args.records, args.chunk, f"SQLite with {args.baseline_ref}")), base_src))
                    if args.postgres:
                        targets.append(("before postgresql", pg_db("pgbase", lambda url: load_with(
                            base_src, url, args.records, args.chunk, f"PostgreSQL with {args.baseline_ref}")),
                            base_src))
            items.clear()
            datasette_db = store / f"datasette{kept}" / "bench.db"  # served as /bench
            datasette_db.parent.mkdir(exist_ok=True)
            if not args.skip_datasette:
                if args.keep and (store / f"{datasette_db.name}.done").exists():
                    print(f"reusing {datasette_db}")
                else:
                    datasette_db.unlink(missing_ok=True)
                    t = time.perf_counter()
                    rows = build_datasette_db(Path(targets[0][1].removeprefix("sqlite:///")), datasette_db)
                    print(f"built the Datasette table ({rows:,} rows, FTS5) in {time.perf_counter() - t:.1f} s")
                    (store / f"{datasette_db.name}.done").touch()

            def healthgate(label: str, url: str, src: Path | None = None):
                port = free_port()
                env = {"HEALTHGATE_DATABASE_URL": url, "HEALTHGATE_DATA_DIR": str(tmp / "data"),
                       **{f"HEALTHGATE_RATE_LIMIT_{k}": "off" for k in ("ANONYMOUS", "EXPENSIVE")}}  # one client
                if src is not None:
                    env["PYTHONPATH"] = str(src / "src")
                return server([str(BIN / "healthgate"), "serve", "--port", str(port)], env, port,
                              "/api/v1/search/datasets?per_page=1", tmp / f"{label.replace(' ', '-')}.log")

            # picked on the "before" code when there is one: its facet values are the records' own spellings,
            # which the "after" code (normalising facet values) also accepts as filters
            pick = next((t for t in targets if t[0] == "before sqlite"), targets[0])
            print(f"picking the workload (on a {pick[0]} server used for nothing else):")
            t = time.perf_counter()
            with healthgate("pick", pick[1], pick[2]) as (base, _):
                reqs = workload(base)
            used = Counter(len(f) for _, f in reqs)
            print(f"  {len(reqs)} requests ({len({q for q, _ in reqs})} distinct queries) in "
                  f"{time.perf_counter() - t:.0f} s, filtering on one value ({used[1]}), two ({used[2]}) or "
                  f"none ({used[0]}) of {', '.join(FACETS)}; counts for all four in every answer")
            for label, url, src in targets:
                print(f"{label}:")
                with healthgate(label, url, src) as (base, _):
                    results[label] = measure(base, "healthgate", reqs, args.clients, args.duration)
        finally:
            if admin is not None:
                with admin.connect() as c:
                    for name in pg_names:
                        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

        if not args.skip_datasette:
            print("datasette sqlite:")
            port = free_port()
            cmd = [str(BIN / "datasette"), "serve", "-i", str(datasette_db), "--port", str(port),
                   "--setting", "default_page_size", "10", "--setting", "facet_time_limit_ms", "10000",
                   "--setting", "sql_time_limit_ms", "10000", "--setting", "suggest_facets", "off"]
            with server(cmd, {}, port, "/bench/datasets.json?_size=1", tmp / "datasette.log") as (base, _):
                results["datasette"] = measure(base, "datasette", reqs, args.clients, args.duration)

    baseline = results.get("datasette", {}).get("rps")
    n = args.clients
    head = (f"{'server':<18} {'records':>8} {'1st p50':>7} {'1st p95':>7} {'p50 ms':>7} {'p95 ms':>7} "
            f"{f'req/s ({n})':>10} {f'p95 ({n})':>8} {'failed':>6} {'hits':>5} {'0 hits':>6} "
            f"{'vs datasette':>12}")
    print("\n" + head + "\n" + "-" * len(head))
    order = ["before sqlite", "after sqlite", "before postgresql", "after postgresql", "datasette"]
    for label in sorted(results, key=lambda k: order.index(k) if k in order else len(order)):
        r = results[label]
        ratio = f"{r['rps'] / baseline:.2f}x" if baseline else "-"
        print(f"{label:<18} {args.records:>8,} {r['p50_1st']:>7.1f} {r['p95_1st']:>7.1f} {r['p50']:>7.1f} "
              f"{r['p95']:>7.1f} {r['rps']:>10.1f} {r['p95_load']:>8.1f} {r['failed']:>6} {r['hits']:>5,.0f} "
              f"{r['zero']:>6.0%} {ratio:>12}")
    for engine in ("sqlite", "postgresql"):
        b, a = results.get(f"before {engine}"), results.get(f"after {engine}")
        if a and b:
            print(f"{engine}: first-run p95 {b['p95_1st']:.1f} -> {a['p95_1st']:.1f} ms, repeat p95 "
                  f"{b['p95']:.1f} -> {a['p95']:.1f} ms, {n} clients {b['rps']:.1f} -> {a['rps']:.1f} req/s")
    print(f"before: healthgate at {args.baseline_ref}; after: this checkout. "
          "1st p50/p95: one client, the first 300 requests on a fresh server; p50/p95: the same 300 again; "
          f"req/s and p95 ({n}): {n} concurrent clients, ms. Each server runs one process. failed: non-200, "
          "transport error or facets missing; hits: median per answer; 0 hits: share of answers without.")


if __name__ == "__main__":
    main()
