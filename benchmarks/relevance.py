"""Ranking quality: MRR@10 and success@5 of tests/search/relevance.json over the real 605-dataset corpus, on
SQLite and (with --postgres or HEALTHGATE_TEST_POSTGRES_URL) PostgreSQL.

Each engine is measured three ways: as shipped; with every match scored by the database (FTS5's bm25,
PostgreSQL's ts_rank_cd); and with every match scored in memory (``search.textindex``, the bm25 that large
matches on SQLite and every match on PostgreSQL get), so the quality of each path is measured.

With --large URL (a catalogue big enough for common words to pass the backend's limit, such as the one
``benchmarks/search.py --keep`` builds), it also measures how far the shipped order of a large match is from
the order the database would give by scoring every match (the limit lifted): for each of the search
benchmark's query terms, how many of the database's top 10 are in the shipped top 10, the first rank at which
the two orders differ, and the database's score of the shipped top 10 as a share of its best top 10.

    python benchmarks/relevance.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from scratch import postgres_database  # benchmarks/ is the script's folder, so on sys.path

from healthgate import migrate
from healthgate.catalogue.importer import import_items
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity.permissions import SYSTEM
from healthgate.interop.sources import read_sources
from healthgate.search import backend, facets
from healthgate.search.engine import search
from healthgate.search.query import parse

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
    for name, limit in (("as shipped", shipped), ("database scoring", 10**9), ("in-memory scoring", 0)):
        be.rank_limit = limit
        facets.reset()
        mrr, s5 = evaluate(sessions)
        print(f"{label:10s} {name:18s} {len(JUDGMENTS)} queries  MRR@10 = {mrr:.3f}  success@5 = {s5:.3f}")
    be.rank_limit = shipped
    engine.dispose()


AGREEMENT_TERMS = ["cancer", "diabetes", "asthma", "covid", "heart failure", "mental health", "children", "stroke",
                   "primary care", "hospital admissions", "registry", "cohort", "imaging", "genomic", "pregnancy",
                   "dementia", "hip replacement", "biobank", "prescriptions", "mortality", "obesity", "kidney",
                   "vaccination", "emergency"]


def agreement(url: str) -> None:
    """Top-10 agreement of the shipped order with a full database rank, on a large catalogue: how many of the
    full rank's top 10 are shown, where the orders first differ, and the database's own score of the shipped
    top 10 as a share of its best top 10 (1.0: as good by its measure, whichever of several equally scored
    copies were picked)."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    be = backend.for_engine(engine)
    shipped = be.rank_limit
    overlaps, firsts, shares, large = [], [], [], 0
    try:
        for term in AGREEMENT_TERMS:
            orders = []
            for limit in (shipped, 10**9):
                be.rank_limit = limit
                with sessions() as s:
                    idx, _ = facets.current(s)
                    idx.matches.clear()  # text matches are cached per snapshot: score afresh
                    result = search(s, term, per_page=10)
                    orders.append([str(h.dataset_id) for h in result.items])
            if result.total <= shipped:
                continue  # scored by the database either way
            large += 1
            mine, full = orders
            with sessions() as s:
                idx, _ = facets.current(s)
                ids, scores = be.match(s, parse(term))
            score_of = dict(zip(ids.tolist(), scores.tolist(), strict=True))
            entry_of = {sid: idx.entry_ids[p] for p, sid in enumerate(idx.subject_ids)}
            best = sum(score_of.get(entry_of[d], 0.0) for d in full) or 1.0
            shares.append(sum(score_of.get(entry_of[d], 0.0) for d in mine) / best)
            overlaps.append(len(set(mine) & set(full)))
            firsts.append(next((i + 1 for i, (a, b) in enumerate(zip(mine, full, strict=False)) if a != b), 11))
            print(f"  {term!r}: {result.total:,} matches, {overlaps[-1]}/10 of the full rank's top 10 shown, "
                  f"orders differ from rank {firsts[-1] if firsts[-1] <= 10 else '- (same top 10)'}, "
                  f"score share {shares[-1]:.3f}")
    finally:
        be.rank_limit = shipped
        engine.dispose()
    if large:
        print(f"{engine.dialect.name}: {large} of {len(AGREEMENT_TERMS)} terms above the limit of {shipped}; top-10 "
              f"overlap with a full rank median {sorted(overlaps)[len(overlaps) // 2]}/10 (min {min(overlaps)}), "
              f"first difference at median rank {sorted(firsts)[len(firsts) // 2]}, score share median "
              f"{sorted(shares)[len(shares) // 2]:.3f} (min {min(shares):.3f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", default=os.environ.get("HEALTHGATE_TEST_POSTGRES_URL"))
    ap.add_argument("--large", action="append", default=[], help="a large catalogue's database URL (repeatable)")
    ap.add_argument("--only-large", action="store_true", help="skip the 605-record judgments")
    args = ap.parse_args()
    for url in args.large:
        agreement(url)
    if args.only_large:
        return
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{tmp}/rel.db", "sqlite")
    if args.postgres:
        with postgres_database(args.postgres, prefix="hg_rel") as url:
            measure(url, "postgresql")


if __name__ == "__main__":
    main()
