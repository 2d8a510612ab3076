"""The public data use register's search at scale: p95 of a faceted search over --entries published entries.

Method, in one run, for SQLite and (with --postgres URL or HEALTHGATE_TEST_POSTGRES_URL) PostgreSQL:

1. A fresh database (a file; a new PostgreSQL database, dropped after), migrated.
2. Custodians: the real HDR UK gateway corpus's publishers (``healthgate/data/hdruk-gateway-datasets-2022.csv``)
   as teams. Entries are written in bulk with Core inserts (register_entries and its dataset, applicant and
   output rows), not through the web: generated projects (a topic x a study design), 400 organisations with
   ROR ids in the register's sectors, one to three datasets named after the corpus's real dataset titles,
   applicants with ORCID iDs, funders, a DOI for one project in three, approval dates over ten years,
   access type and legal basis from the template's lookups. Every entry is published.
3. ``register.indexing.reindex`` puts them all into the shared search index (timed: entries/s), the way a
   deployment rebuilds the kind.
4. The workload (seeded, the same for both databases): --queries searches of the public register, each a
   query of one or two topic words (20% none: the whole register), drilled down by zero, one or two facet
   values picked among the ten commonest of custodian, organisation, sector, dataset, access type and legal
   basis in the counts of the answer so far (as a user clicking facets would), one in four with an approval
   date range; 20 per page; every answer carries all six facets' counts. Timed twice in a fresh process
   state: ``register.search.search`` (the engine, snippets and hits as the page and API use them), first
   pass (each query text new) and second pass (text matches cached in the snapshot), then the same
   requests through the HTTP API (``GET /api/v1/data-uses`` in-process with Starlette's TestClient: routing,
   validation and JSON included, no network).

    python benchmarks/register_search.py --entries 100000 --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/identifiers.py

from scratch import postgres_database
from tests.identifiers import CROCKFORD, orcid, ror

from healthgate import migrate
from healthgate.clock import FixedClock
from healthgate.context import Context
from healthgate.db import make_engine
from healthgate.identity import service as identity
from healthgate.identity.permissions import SYSTEM
from healthgate.register import fields as F
from healthgate.register import indexing
from healthgate.register import search as rs
from healthgate.register.models import (
    RegisterEntry,
    RegisterEntryApplicant,
    RegisterEntryDataset,
    RegisterEntryOutput,
)
from healthgate.search import facets

TOPICS = ["asthma", "diabetes", "heart failure", "stroke", "dementia", "depression", "COVID-19", "sepsis",
          "breast cancer", "lung cancer", "kidney disease", "obesity", "pregnancy", "childhood vaccination",
          "hip fracture", "multiple sclerosis", "psoriasis", "hypertension", "atrial fibrillation", "frailty",
          "schizophrenia", "autism", "epilepsy", "long COVID", "antimicrobial resistance", "smoking"]
DESIGNS = ["outcomes after", "risk factors for", "inequalities in", "trends in", "treatment of",
           "machine learning prediction of", "genetic determinants of", "costs of care for", "early detection of"]
PLACES = ["Wales", "Scotland", "England", "Northern Ireland", "the UK", "London", "Greater Manchester"]
SECTORS = [s for s in F.lookups()["Organisation Type"] if s != "Other"]
LEGAL = [v for v in F.lookups()["Legal basis for provision of data under Article 6"] if v != "Not applicable"]
FUNDERS = ["Wellcome Trust", "Medical Research Council", "NIHR", "Cancer Research UK", "British Heart Foundation",
           "Health Data Research UK", "Economic and Social Research Council", "Diabetes UK", "Versus Arthritis"]
FACETS = ("custodian", "organisation", "sector", "dataset", "access_type", "legal_basis")


def random_ror(rng: random.Random) -> str:
    return ror("".join(rng.choice(CROCKFORD) for _ in range(6)))


def corpus() -> tuple[list[str], list[str]]:
    """(custodians, dataset titles) of the real HDR UK gateway corpus the package ships."""
    path = resources.files("healthgate").joinpath("data/hdruk-gateway-datasets-2022.csv")
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    custodians = sorted({r["publisher"].split(">")[-1].strip() for r in rows if r.get("publisher")})
    titles = sorted({r["title"].strip() for r in rows if r.get("title", "").strip()})
    return custodians, titles


def seed(engine: Any, n: int, seed_value: int = 11) -> None:
    """``n`` published entries, written in bulk; then the search index rebuilt from them."""
    rng = random.Random(seed_value)
    custodians, titles = corpus()
    clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
    with Session(engine) as s, s.begin():
        ctx = Context(s, SYSTEM, clock)
        teams = [identity.get_or_create_team(ctx, name, member_group="ALLIANCE").id for name in custodians]
    orgs = []
    for i in range(400):
        kind = rng.choice(["University of", "NHS Foundation Trust", "Institute", "Ltd"])
        place = f"{rng.choice(['North', 'South', 'East', 'West', 'Central', 'Upper', 'Lower'])} {i:03d}"
        name = {"University of": f"University of {place}", "NHS Foundation Trust": f"{place} NHS Foundation Trust",
                "Institute": f"{place} Institute of Health", "Ltd": f"{place} Analytics Ltd"}[kind]
        orgs.append((name, random_ror(rng), rng.choice(SECTORS)))
    people = [(f"{rng.choice(['A.', 'B.', 'C.', 'D.', 'E.'])} {rng.choice(['Smith', 'Jones', 'Patel', 'Khan', 'Evans', 'Brown', 'Wilson', 'Taylor'])}-{i}",
               orcid(10_000_000 + i)) for i in range(5000)]
    now = clock.now()
    start = date(2016, 1, 1)
    chunk = 5000
    t0 = time.perf_counter()
    for base in range(0, n, chunk):
        entries, used, applicants, outputs = [], [], [], []
        for i in range(base, min(n, base + chunk)):
            eid = uuid.UUID(int=rng.getrandbits(128), version=4)
            topic = rng.choice(TOPICS)
            org_name, org_ror, sector = rng.choice(orgs)
            approved = start + timedelta(days=rng.randrange(3650))
            entries.append({
                "id": eid, "team_id": rng.choice(teams), "project_id": f"P-{i:06d}", "status": "published",
                "origin": "upload", "application_id": None, "organisation_name": org_name,
                "organisation_id": None, "organisation_ror": org_ror, "organisation_sector": sector,
                "funders": rng.sample(FUNDERS, rng.randint(0, 2)), "accredited_researcher": rng.choice(["Yes", "No"]),
                "sublicence": None,
                "project_title": f"{rng.choice(DESIGNS).capitalize()} {topic} in {rng.choice(PLACES)}",
                "lay_summary": f"This project studies {topic} using routinely collected health records to "
                               f"understand {rng.choice(DESIGNS)} {rng.choice(TOPICS)}.",
                "public_benefit": f"Better services for people with {topic}.",
                "request_category": rng.choice(F.lookups()["Request Category Type"]),
                "technical_summary": None, "other_approvals": None, "project_start": approved,
                "project_end": approved + timedelta(days=730), "approval_date": approved,
                "sensitivity": rng.choice(F.lookups()["Data Sensitivity Level"]),
                "legal_basis": rng.choice(LEGAL), "lawful_condition": None, "confidentiality_duty": None,
                "opt_out_applied": None, "request_frequency": None, "linkage_description": None,
                "confidential_description": None, "access_date": None,
                "access_type": rng.choice(["TRE", "TRE", "Release"]), "privacy_enhancements": None,
                "created_at": now, "updated_at": now, "published_at": now, "row_version": 1,
            })
            for pos, title in enumerate(rng.sample(titles, rng.randint(1, 3))):
                used.append({"entry_id": eid, "position": pos, "name": title, "dataset_id": None})
            for pos, (pname, pid) in enumerate(rng.sample(people, rng.randint(1, 3))):
                applicants.append({"entry_id": eid, "position": pos, "name": pname, "orcid": pid, "user_id": None})
            if rng.random() < 0.33:
                doi = f"10.{rng.randint(1000, 9999)}/{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}"
                outputs.append({"entry_id": eid, "position": 0, "kind": "paper", "url": f"https://doi.org/{doi}",
                                "doi": doi, "title": None})
        with engine.begin() as conn:
            conn.execute(insert(RegisterEntry), entries)
            conn.execute(insert(RegisterEntryDataset), used)
            conn.execute(insert(RegisterEntryApplicant), applicants)
            if outputs:
                conn.execute(insert(RegisterEntryOutput), outputs)
    wrote = time.perf_counter() - t0
    t0 = time.perf_counter()
    with Session(engine) as s, s.begin():
        indexed, _ = indexing.reindex(s)
    took = time.perf_counter() - t0
    print(f"  wrote {n:,} entries in {wrote:.1f} s; reindex {indexed:,} in {took:.1f} s ({indexed / took:,.0f} entries/s)")


def workload(engine: Any, count: int, seed_value: int = 5) -> list[dict[str, Any]]:
    """Requests a user clicking facets would make: each filter value among the ten commonest of its facet."""
    rng = random.Random(seed_value)
    out = []
    with Session(engine) as s:
        for _ in range(count):
            q = "" if rng.random() < 0.2 else " ".join(rng.sample(TOPICS, 1 if rng.random() < 0.8 else 2))
            values: dict[str, list[str]] = {}
            lo = hi = None
            if rng.random() < 0.25:
                year = rng.randrange(2016, 2025)
                lo, hi = date(year, 1, 1), date(year + rng.randint(0, 2), 12, 31)
            for _ in range(rng.choice([0, 1, 1, 2])):
                answer = rs.search(s, q, values, approved_from=lo, approved_to=hi, per_page=1)
                name = rng.choice([f for f in FACETS if f not in values])
                top = [v["value"] for v in answer.facets[name] if v["count"]][:10]
                if top:
                    values[name] = [rng.choice(top)]
            out.append({"q": q, "values": values, "approved_from": lo, "approved_to": hi})
    return out


def _stats(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return (f"  {label:<34} p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  mean {statistics.fmean(ms):7.1f} ms"
            f"  max {ms[-1]:7.1f} ms")


def measure(engine: Any, url: str, requests: list[dict[str, Any]], data_dir: Path) -> None:
    facets.reset()
    print(f"  load average before measuring: {os.getloadavg()[0]:.1f} (the machine has {os.cpu_count()} cores)")
    hits = []
    with Session(engine) as s:
        t0 = time.perf_counter()
        facets.current(s, indexing.NAME)
        print(f"  snapshot built in {time.perf_counter() - t0:.2f} s")
        for label in ("engine, first pass", "engine, second pass"):
            times = []
            for r in requests:
                t0 = time.perf_counter()
                answer = rs.search(s, r["q"], r["values"], approved_from=r["approved_from"],
                                   approved_to=r["approved_to"], per_page=20)
                times.append(time.perf_counter() - t0)
                assert set(answer.facets) == set(FACETS)
                hits.append(answer.total)
            print(_stats(label, times))
    print(f"  hits per request: median {statistics.median(hits):,.0f}, none {sum(1 for h in hits if not h)}")
    from fastapi.testclient import TestClient

    from healthgate.app import create_app
    from healthgate.config import Settings

    app = create_app(Settings(data_dir=data_dir, database_url=url, rate_limit_anonymous="off",
                              rate_limit_expensive="off"), migrate_db=False)
    with TestClient(app) as client:
        times = []
        for r in requests:
            params: list[tuple[str, str]] = [("q", r["q"]), ("per_page", "20")]
            params += [(k, v) for k, vs in r["values"].items() for v in vs]
            if r["approved_from"]:
                params += [("approved_from", r["approved_from"].isoformat()),
                           ("approved_to", r["approved_to"].isoformat())]
            t0 = time.perf_counter()
            answer = client.get("/api/v1/data-uses", params=params)
            times.append(time.perf_counter() - t0)
            assert answer.status_code == 200, answer.text
        print(_stats("HTTP API GET /api/v1/data-uses", times))
    print(f"  load average after measuring: {os.getloadavg()[0]:.1f}")
    app.state.engine.dispose()


def run(label: str, url: str, n: int, queries: int, data_dir: Path) -> None:
    print(f"{label}: {n:,} published entries")
    engine = make_engine(url)
    migrate.upgrade(engine)
    seed(engine, n)
    requests = workload(engine, queries)
    measure(engine, url, requests, data_dir)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server URL (a database is created and dropped); '' for SQLite only")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{Path(tmp) / 'register.db'}", args.entries, args.queries, Path(tmp))
        if args.postgres:
            with postgres_database(args.postgres, "hg_bench_register") as url:
                run("PostgreSQL", url, args.entries, args.queries, Path(tmp))


if __name__ == "__main__":
    main()
