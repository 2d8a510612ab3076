"""The served DCAT-AP catalogue at scale: import N generated records (as benchmarks/ingest.py does, from the
real HDR UK Gateway corpus), then time, over HTTP against the app (in process):

- the first and the last page of ``/catalog.ttl``, ``.jsonld`` and ``.rdf`` (100 datasets a page), so paging
  deep into the catalogue is seen to cost what the first page costs;
- one dataset's Turtle by content negotiation;
- ``healthgate export --format dcat-ttl``: the whole catalogue streamed to a file (datasets/s, peak memory);
- the SHACL validation of one page.

    python benchmarks/dcat.py --records 100000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from rdflib import Graph
from rdflib.namespace import DCAT

sys.path.insert(0, str(Path(__file__).parent))
from ingest import generate, run  # noqa: E402

from healthgate.app import create_app  # noqa: E402
from healthgate.config import Settings  # noqa: E402
from healthgate.db import make_engine  # noqa: E402
from healthgate.federation import dcat_export  # noqa: E402
from healthgate.interop import shacl  # noqa: E402


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000)
    args = ap.parse_args()
    items = generate(args.records)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        elapsed, _ = run(url, items, 10_000)
        print(f"imported {len(items)} records in {elapsed:.1f} s")
        app = create_app(Settings(data_dir=Path(tmp), database_url=url))
        with TestClient(app) as client:
            last = -(-len(items) // 100)
            for ext in ("ttl", "jsonld", "rdf"):
                first_s, r1 = timed(lambda ext=ext: client.get(f"/catalog.{ext}?page=1"))
                last_s, r2 = timed(lambda ext=ext: client.get(f"/catalog.{ext}?page={last}"))
                assert r1.status_code == r2.status_code == 200
                print(f"/catalog.{ext}: page 1 {first_s * 1000:.0f} ms ({len(r1.content) / 1024:.0f} KiB), "
                      f"page {last} {last_s * 1000:.0f} ms; ratio last/first {last_s / first_s:.2f}")
            page = client.get("/catalog.ttl?page=1").content
            one = client.get("/catalog.ttl?page=1&per_page=1")
            g = Graph().parse(data=one.content, format="turtle")
            ds = next(iter(g.objects(None, DCAT.dataset)))
            one_s, r = timed(lambda: client.get(str(ds).removeprefix("http://testserver"),
                                                headers={"Accept": "text/turtle"}))
            assert r.status_code == 200, r.text[:200]
            print(f"one dataset as Turtle by content negotiation: {one_s * 1000:.1f} ms")
            graph = Graph().parse(data=page, format="turtle")
            v_s, report = timed(lambda: shacl.validate(graph), repeat=1)
            print(f"SHACL validation of one page (100 datasets, {len(graph)} triples): {v_s:.2f} s, "
                  f"conforms={report.conforms}")
        out = Path(tmp) / "catalog.ttl"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        n = dcat_export.export_file(make_engine(url), "https://gateway.example.org", out, "ttl")
        export_s = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"export dcat-ttl: {n} datasets in {export_s:.1f} s = {n / export_s:,.0f} datasets/s, "
              f"{out.stat().st_size / 2**20:.0f} MiB; peak RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
