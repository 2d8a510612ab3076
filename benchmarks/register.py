"""Uploading a large data use register: N rows (default 100,000) of HDR UK's upload template, on SQLite and (when
HEALTHGATE_TEST_POSTGRES_URL or --postgres is given) PostgreSQL, each on a fresh database.

The register is generated as a custodian's would look: project ids, a handful of organisations and sectors,
two or three applicants with ORCID iDs, funders, lay summaries of about 60 words, legal bases by letter, UK
dates, one to three dataset names per row (most of them catalogue titles, some with commas, some outside the
catalogue, a few misspelt so that fuzzy matching has work to do) and research output links.

Phases, each timed (rows/s) through ``register.upload.upload`` exactly as the API and pages call it:

    read CSV          the file parsed into raw rows (no database)
    dry run           parse, check every row, match datasets, plan (nothing written)
    first upload      the same, applied: every row created and published, audited, indexed, in one transaction
    upload again      the same file: every row compared and found unchanged
    10% changed       a tenth of the rows edited: updates
    export CSV/XLSX   the public register written out; XLSX read back (parse only)

    python benchmarks/register.py [--rows 100000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import postgres_database
from tests.access.harness import document

from healthgate import migrate
from healthgate.audit import keys
from healthgate.catalogue import service as catalogue
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity import actors, users
from healthgate.identity import service as identity
from healthgate.identity.models import Membership
from healthgate.identity.permissions import SYSTEM, Role
from healthgate.interop import register_table as T
from healthgate.interop import register_xlsx
from healthgate.register import export, upload
from healthgate.register import fields as F
from healthgate.register.models import RegisterEntry

WORDS = ("cohort patients risk outcomes hospital admission cancer diabetes heart failure stroke primary care "
         "linked records mortality children pregnancy vaccine infection mental health prescribing survival "
         "inequalities deprivation screening genomic biomarkers trial follow-up imaging kidney lung").split()
ORGS = [("University of Exeter", "03yghzc09", "Academic Institute"),
        ("University of Oxford", "052gg0110", "Academic Institute"),
        ("NHS England", None, "Government Agency (Health and Adult Social Care)"),
        ("Acme Pharma Ltd", None, "Commercial"), ("Devon County Council", None, "Local authority")]
ORCIDS = ["0000-0002-1825-0097", "0000-0001-5109-3700", "0000-0002-1694-233X"]
TITLES = [f"{a} {b} {c}" for a, b, c in zip(
    ["National", "Regional", "Scottish", "Welsh", "Northern"] * 8,
    ["cancer", "diabetes", "cardiac", "maternity", "renal", "stroke", "mental health", "primary care"] * 5,
    ["registry", "audit", "cohort", "dataset", "extract"] * 8, strict=False)][:40]
TITLES += ["Hospital Episode Statistics, Admitted Patient Care", "Civil Registration, Deaths"]


def _summary(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def generate(n: int, seed: int = 7, changed: float = 0.0) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([f.header for f in F.FIELDS])
    edit = random.Random(seed + 1)
    for i in range(n):
        org, ror, sector = ORGS[i % len(ORGS)]
        names = rng.sample(TITLES, rng.randint(1, 3))
        if i % 50 == 0:
            names.append(f"Local study extract {i % 997}")  # outside the catalogue
        if i % 200 == 0:
            names[0] = names[0].replace("registry", "registery")  # a misspelling: a fuzzy match
        summary = _summary(rng, 60)
        if changed and edit.random() < changed:
            summary += " Extended."
        d = rng.randint(1, 28)
        row = {
            "project_id": f"PRJ-{i:06d}", "organisation_name": org,
            "organisation_ror": f"https://ror.org/{ror}" if ror else "", "organisation_sector": sector,
            "applicants": "; ".join(rng.sample(["Ada Lovelace", "Alan Turing", "Grace Hopper"], 2)),
            "applicant_ids": "; ".join(rng.sample(ORCIDS, 2)), "funders": "Wellcome Trust, NIHR",
            "accredited_researcher": rng.choice(["Yes", "No", "Unknown"]), "sublicence": "No",
            "project_title": f"{_summary(rng, 6)[:-1]} ({i})", "lay_summary": summary,
            "public_benefit": _summary(rng, 25), "request_category": "Public Health Research",
            "technical_summary": _summary(rng, 30), "other_approvals": "REC",
            "project_start": f"{d:02d}/03/2022", "project_end": "2026-12-31", "approval_date": f"2022-02-{d:02d}",
            "datasets": "; ".join(names), "sensitivity": "De-Personalised", "legal_basis": rng.choice("abcdef"),
            "lawful_condition": "(j)", "confidentiality_duty": "Section 251 NHS Act 2006",
            "opt_out_applied": "Yes", "request_frequency": "One-off", "linkage_description": "",
            "confidential_description": "", "access_date": "2022-04-01", "access_type": rng.choice(["TRE", "Release"]),
            "privacy_enhancements": "Pseudonymised", "outputs": f"https://doi.org/10.1000/{i}",
        }
        w.writerow([row[f.name] for f in F.FIELDS])
    return out.getvalue().encode()


def timed(label: str, rows: int, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` and print its wall-clock time, this process's CPU time (the database server's is not
    counted) and rows/s by each: on a shared machine the CPU figure is the steadier one."""
    t, c = time.perf_counter(), time.process_time()
    got = fn()
    s, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"  {label:<16} {s:8.1f} s wall {rows / s:10,.0f} rows/s | {cpu:8.1f} s CPU {rows / max(cpu, 1e-9):10,.0f}"
          " rows/s", flush=True)
    return got


def run(url: str, n: int, files: dict[str, bytes]) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    clock = SystemClock()
    limits = T.Limits(max_rows=max(n, 1), max_bytes=2**31, max_unpacked_bytes=2**33)
    with sessions.begin() as s:
        sys_ctx = Context(s, SYSTEM, clock)
        team = identity.get_or_create_team(sys_ctx, "Benchmark custodian", member_group="ALLIANCE").id
        for title in TITLES:
            ds, _ = catalogue.create_draft(sys_ctx, team, document(title))
            catalogue.publish(sys_ctx, ds.id)
        user = users.create_user(sys_ctx, "bench@example.org", "Bench", verified=True)
        s.add(Membership(team_id=team, user_id=user.id, role=Role.TEAM_ADMIN.value, created_at=clock.now()))
        user_id = user.id

    def go(data: bytes, *, dry_run: bool, name: str = "register.csv") -> upload.Result:
        with sessions.begin() as s:
            from healthgate.identity.models import User

            ctx = Context(s, actors.actor_for_user(s, s.get(User, user_id)), clock)
            return upload.upload(ctx, team, name, data, limits=limits, dry_run=dry_run)

    r = timed("dry run", n, lambda: go(files["first"], dry_run=True))
    fuzzy = len(r.to_confirm)
    r = timed("first upload", n, lambda: go(files["first"], dry_run=False))
    print(f"  {r.counts}  ({fuzzy} fuzzy matches to confirm)")
    r = timed("upload again", n, lambda: go(files["first"], dry_run=False))
    print(f"  {r.counts}")
    r = timed("10% changed", n, lambda: go(files["changed"], dry_run=False))
    print(f"  {r.counts}")
    with sessions() as s:
        ctx = Context(s, SYSTEM, clock)
        assert s.scalar(select(func.count()).select_from(RegisterEntry)) == n
        rows = timed("export read", n, lambda: export.rows(ctx, None))
        timed("export CSV", n, lambda: export.to_csv(rows))
        xlsx = timed("export XLSX", n, lambda: export.to_xlsx(rows))
    print(f"  XLSX: {len(xlsx) / 2**20:.1f} MiB")
    timed("read XLSX", n, lambda: register_xlsx.read(xlsx, limits))
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    keys.set_default("benchmark key")
    files = {"first": generate(args.rows), "changed": generate(args.rows, changed=0.1)}
    print(f"register of {args.rows:,} rows: {len(files['first']) / 2**20:.1f} MiB of CSV")
    from healthgate.interop import register_csv

    timed("read CSV", args.rows, lambda: register_csv.read(files["first"], T.Limits(max_rows=args.rows,
                                                                                    max_bytes=2**31)))
    with tempfile.TemporaryDirectory() as tmp:
        print("sqlite")
        run(f"sqlite:///{tmp}/bench.db", args.rows, files)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            print("postgresql")
            run(url, args.rows, files)


if __name__ == "__main__":
    main()
