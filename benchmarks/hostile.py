"""Hostile documents: the worst metadata documents we could build just under the size limit.

Every step that reads a document (parse, version detection, schema validation, translation up to 4.0.0,
quality, extraction) must be linear in its size. For each document shape this prints the time of
``metadata.check`` (plus the validation report) and of a full anonymous ``POST /api/v1/validate`` through the
app, then the slowest. A --scale run builds each shape at 1/4, 1/2 and full size and prints the ratio of the
times: a linear step doubles, a quadratic one quadruples.

    python benchmarks/hostile.py                # every shape just under the limit
    python benchmarks/hostile.py --scale        # growth check
    python benchmarks/hostile.py --only keywords-4.0.0
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from healthgate.catalogue import metadata
from healthgate.errors import Invalid

LIMIT = metadata.MAX_DOCUMENT_BYTES
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "catalogue" / "fixtures"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _v4() -> dict[str, Any]:
    return _fixture("hdruk-4.0.0-full.json")


def _v3() -> dict[str, Any]:
    return _fixture("hdruk-3.0.0-full.json")


def _v2() -> dict[str, Any]:
    return _fixture("hdruk-2.1.2-full.json")


# Each builder makes the document with ``n`` repeated units; ``fit`` finds the largest n under the limit.
def keywords_v4(n: int) -> dict[str, Any]:
    doc = _v4()
    doc["summary"]["keywords"] = [f"keyword {i}" for i in range(n)]
    return doc


def keywords_duplicated(n: int) -> dict[str, Any]:
    doc = _v4()
    doc["summary"]["keywords"] = [f"keyword {i % 50}" for i in range(n)]
    return doc


def keywords_v2(n: int) -> dict[str, Any]:
    doc = _v2()
    doc["summary"]["keywords"] = ",".join(f"kw{i}" for i in range(n))
    return doc


def bad_keywords_v2(n: int) -> dict[str, Any]:
    """Keywords too short for 3.0.0: every one becomes a note in the description."""
    doc = _v2()
    doc["summary"]["keywords"] = ",".join("k" for _ in range(n))
    return doc


def structural_v4(n: int) -> dict[str, Any]:
    doc = _v4()
    columns = [{"name": f"col_{i}", "dataType": "string", "description": f"column {i}", "sensitive": False,
                "values": [{"name": "a", "frequency": 1, "description": "x"}]} for i in range(n)]
    doc["structuralMetadata"] = {"tables": [{"name": f"t{t}", "description": "table", "columns": columns[t::20]}
                                            for t in range(20)]}
    return doc


def structural_tables_v2(n: int) -> dict[str, Any]:
    doc = _v2()
    doc["structuralMetadata"] = [{"name": f"table_{i}", "description": "d",
                                  "elements": [{"name": "c", "dataType": "string", "description": "d",
                                                "sensitive": False, "values": ["junk", {"name": "v"}]}]}
                                 for i in range(n)]
    return doc


def structural_columns_v2(n: int) -> dict[str, Any]:
    doc = _v2()
    doc["structuralMetadata"] = [{"name": "one", "description": "d", "elements": [
        {"name": f"c{i}", "dataType": "string", "description": "d", "sensitive": False} for i in range(n)]}]
    return doc


def long_strings(n: int) -> dict[str, Any]:
    doc = _v4()
    doc["summary"]["abstract"] = "a" * n
    doc["documentation"]["description"] = "word " * (n // 5)
    return doc


def long_keyword(n: int) -> dict[str, Any]:
    doc = _v4()
    doc["summary"]["keywords"] = ["k" * n]
    return doc


def wide_linkage_v2(n: int) -> dict[str, Any]:
    """Many dataset references: titles, URLs and DOIs become descriptors, de-duplicated."""
    doc = _v2()
    doc["enrichmentAndLinkage"]["qualifiedRelation"] = [
        (f"https://example.org/d/{i}", f"Dataset {i}", f"10.5555/x.{i}")[i % 3] for i in range(n)]
    doc["accessibility"]["usage"]["isReferencedBy"] = [f"Some paper doi 10.1000/{i} and 10.1000/y{i}"
                                                       for i in range(n // 4)]
    return doc


def wide_enums_v2(n: int) -> dict[str, Any]:
    """Enum lists full of values with no equivalent: every one is mapped and noted."""
    doc = _v2()
    doc["accessibility"]["formatAndStandards"]["vocabularyEncodingScheme"] = [f"VOCAB{i}" for i in range(n // 3)]
    doc["accessibility"]["access"]["jurisdiction"] = [f"NOWHERE{i}" for i in range(n // 3)]
    doc["provenance"]["origin"]["purpose"] = [f"PURPOSE{i}" for i in range(n // 3)]
    return doc


def dataset_types_v3(n: int) -> dict[str, Any]:
    doc = _v3()
    doc["provenance"]["origin"]["datasetType"] = ["Health and disease"] * (n // 2)
    doc["provenance"]["origin"]["datasetSubType"] = ["Cardiovascular", "Not a subtype"] * (n // 4)
    return doc


def many_errors(n: int) -> dict[str, Any]:
    """One schema error per item: too-short keywords, bad e-mails, bad enum values."""
    doc = _v4()
    doc["summary"]["keywords"] = ["k"] * (n // 2)
    doc["accessibility"]["formatAndStandards"]["language"] = [f"x{i}" for i in range(n // 2)]
    return doc


def unknown_fields(n: int) -> dict[str, Any]:
    doc = _v4()
    doc["summary"].update({f"unknown_{i}": i for i in range(n)})
    return doc


def wide_objects_in_array(n: int) -> dict[str, Any]:
    doc = _v4()
    doc["enrichmentAndLinkage"]["linkableDatasets"] = [{"title": f"d{i}", "url": None, "pid": None}
                                                       for i in range(n)]
    return doc


def deep_nesting(n: int) -> dict[str, Any]:
    """As deep as the depth limit allows, as many times as fits."""
    doc = _v4()
    nested: Any = "leaf"
    for _ in range(28):  # 2 levels each: just inside the depth limit
        nested = {"a": [nested]}
    doc["extra"] = [nested] * n
    return doc


def many_revisions(n: int) -> dict[str, Any]:
    doc = _v3()
    doc["revisions"] = [{"version": f"1.0.{i}", "url": f"www.example.org/r/{i} and more"} for i in range(n)]
    return doc


def observations(n: int) -> dict[str, Any]:
    doc = _v2()
    doc["observations"] = [{"observedNode": "PERSONS", "measuredValue": i, "observationDate": "2020-01-01",
                            "measuredProperty": "Count", "disambiguatingDescription": "x"} for i in range(n)]
    return doc


SHAPES: dict[str, Callable[[int], dict[str, Any]]] = {
    "keywords-4.0.0": keywords_v4,
    "keywords-duplicated": keywords_duplicated,
    "keywords-2.1.2": keywords_v2,
    "short-keywords-2.1.2": bad_keywords_v2,
    "structural-columns-4.0.0": structural_v4,
    "structural-tables-2.1.2": structural_tables_v2,
    "structural-columns-2.1.2": structural_columns_v2,
    "long-strings": long_strings,
    "one-long-keyword": long_keyword,
    "wide-linkage-2.1.2": wide_linkage_v2,
    "wide-enums-2.1.2": wide_enums_v2,
    "dataset-types-3.0.0": dataset_types_v3,
    "many-errors": many_errors,
    "unknown-fields": unknown_fields,
    "wide-objects": wide_objects_in_array,
    "deep-nesting": deep_nesting,
    "revisions-3.0.0": many_revisions,
    "observations-2.1.2": observations,
}


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def fit(build: Callable[[int], dict[str, Any]], limit: int) -> tuple[int, bytes]:
    """The largest n whose document is at most ``limit`` bytes (sizes grow with n)."""
    lo, hi = 1, 1
    while len(body(build(hi))) <= limit:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if len(body(build(mid))) <= limit:
            lo = mid
        else:
            hi = mid
    return lo, body(build(lo))


def time_check(raw: bytes) -> tuple[float, int]:
    """Seconds to parse, check and report; the number of errors reported (-1: refused as unstorable)."""
    start = time.perf_counter()
    try:
        checked = metadata.check(metadata.parse_json(raw))
    except Invalid:
        return time.perf_counter() - start, -1
    checked.report()
    return time.perf_counter() - start, len(checked.errors)


def time_api(client: Any, raw: bytes) -> tuple[float, int]:
    start = time.perf_counter()
    r = client.post("/api/v1/validate", content=raw, headers={"content-type": "application/json"})
    return time.perf_counter() - start, r.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(SHAPES), help="shapes to run (default: all)")
    parser.add_argument("--scale", action="store_true", help="print the growth from 1/4 to full size")
    parser.add_argument("--no-api", action="store_true", help="skip the POST /api/v1/validate timing")
    args = parser.parse_args()
    shapes = args.only or list(SHAPES)

    client = None
    if not args.no_api:
        from fastapi.testclient import TestClient

        from healthgate.app import create_app
        from healthgate.config import Settings

        tmp = tempfile.mkdtemp(prefix="healthgate-hostile-")
        client = TestClient(create_app(Settings(data_dir=Path(tmp))))
        client.__enter__()
    metadata.check(_v4())  # compile the validators before timing

    rows = []
    print(f"documents just under the {LIMIT:,}-byte limit; times in seconds")
    print(f"{'shape':28} {'units':>9} {'bytes':>10} {'errors':>7} {'check':>7} {'POST':>7}"
          + ("   growth x2 x2 (1.0 = linear)" if args.scale else ""))
    for name in shapes:
        n, raw = fit(SHAPES[name], LIMIT - 1024)
        seconds, errors = time_check(raw)
        api, status = time_api(client, raw) if client else (float("nan"), 0)
        growth = ""
        if args.scale:
            quarter = time_check(body(SHAPES[name](n // 4)))[0]
            half = time_check(body(SHAPES[name](n // 2)))[0]
            growth = f"   {half / max(quarter, 1e-6) / 2:4.2f} {seconds / max(half, 1e-6) / 2:4.2f}"
        if client and status != 200:
            growth += f"   (HTTP {status})"
        rows.append((name, seconds, api))
        print(f"{name:28} {n:9,} {len(raw):10,} {errors:7,} {seconds:7.2f} {api:7.2f}{growth}", flush=True)
    slowest = max(rows, key=lambda r: max(r[1], r[2] if r[2] == r[2] else 0))
    print(f"\nslowest: {slowest[0]} (check {slowest[1]:.2f} s, POST /api/v1/validate {slowest[2]:.2f} s)")
    if client:
        client.__exit__(None, None, None)


if __name__ == "__main__":
    main()
