"""The GWDM adapter against a real HTTP server on 127.0.0.1 playing HDR UK's gateway dataset API (Laravel pages
of datasets with ``latest_metadata``; details with ``versions[].metadata.metadata``), and its deviations."""

from __future__ import annotations

import copy
import json
import uuid

from healthgate.catalogue import metadata
from tests.federation.fake_catalogues import json_answer, run_adapter, serve
from tests.federation.test_gwdm_mapping import GATEWAY_GWDM


def gateway_datasets(n: int) -> list[dict]:
    out = []
    for i in range(n):
        g = copy.deepcopy(GATEWAY_GWDM)
        pid = str(uuid.UUID(int=1000 + i))
        g["required"].update(gatewayId=str(500 + i), gatewayPid=pid)
        g["summary"]["title"] = f"Gateway dataset {i}"
        out.append({"id": 100 + i, "pid": pid, "status": "ACTIVE", "team_id": 3, "create_origin": "MANUAL",
                    "created": "2024-01-01T00:00:00.000000Z", "updated": "2024-06-01T00:00:00.000000Z",
                    "gwdm": g})
    return out


def gateway(datasets: list[dict], *, list_metadata: bool = True, metadata_as_string: bool = False,
            detail_fails: bool = False, unwrapped: bool = False, ignores_paging: bool = False,
            fail_page: int | None = None):
    def latest(d):
        inner = {"metadata": d["gwdm"], "original_metadata": {}, "gwdmVersion": "2.0"}
        return json.dumps(inner) if metadata_as_string else inner

    def route(path: str, q: dict[str, str]):
        if path == "/api/v2/datasets":
            page, per = int(q.get("page", 1)), int(q.get("per_page", 25))
            if fail_page == page:
                return 503, b"Service Unavailable", "text/plain"
            chunk = datasets if ignores_paging else datasets[(page - 1) * per: page * per]
            rows = []
            for d in chunk:
                row = {k: v for k, v in d.items() if k != "gwdm"}
                if list_metadata:
                    row["latest_metadata"] = {"id": d["id"] * 10, "dataset_id": d["id"], "version": 1,
                                              "metadata": latest(d)}
                rows.append(row)
            if unwrapped:
                return json_answer(rows)
            last = max(1, -(-len(datasets) // per))
            return json_answer({"current_page": page, "data": rows, "first_page_url": "...", "from": 1,
                                "last_page": last, "per_page": per, "total": len(datasets),
                                "next_page_url": None if page >= last else f"/api/v2/datasets?page={page + 1}"})
        if path.startswith("/api/v2/datasets/"):
            if detail_fails:
                return 500, b"{\"message\": \"Server Error\"}", "application/json"
            key = path.rsplit("/", 1)[-1]
            d = next((d for d in datasets if str(d["id"]) == key), None)
            if d is None:
                return json_answer({"message": "Dataset not found"}, 404)
            body = {k: v for k, v in d.items() if k != "gwdm"}
            body["versions"] = [{"id": d["id"] * 10, "version": 1, "metadata": latest(d)}]
            return json_answer({"message": "success", "data": body})
        return None

    return route


def run(url: str, settings: dict | None = None):
    return run_adapter("gwdm", url, settings)


def test_pages_of_a_gateway_with_metadata_in_the_list_need_no_details():
    ds = gateway_datasets(7)
    with serve(gateway(ds)) as site:
        items, incomplete, calls = run(site.base + "/api/v2", {"per_page": 3})
    assert incomplete is None and calls == 3
    assert [i.remote_id for i in items] == [d["pid"] for d in ds]
    doc = items[0].document
    assert doc["identifier"] == ds[0]["pid"] and doc["summary"]["title"] == "Gateway dataset 0"
    assert metadata.check(doc).errors == []
    assert all("status=ACTIVE" in r and "per_page=3" in r for r in site.requests)


def test_without_list_metadata_each_detail_is_read():
    ds = gateway_datasets(4)
    with serve(gateway(ds, list_metadata=False, metadata_as_string=True)) as site:
        items, incomplete, calls = run(site.base + "/api/v2/datasets", {"per_page": 10})
    assert incomplete is None and calls == 1 + 4
    assert [i.title for i in items] == [f"Gateway dataset {i}" for i in range(4)]
    assert all(i.error is None for i in items)


def test_a_failing_detail_is_that_item_s_error_and_the_rest_go_on():
    with serve(gateway(gateway_datasets(3), list_metadata=False, detail_fails=True)) as site:
        items, incomplete, _ = run(site.base + "/api/v2")
    assert incomplete is None and len(items) == 3
    assert all(i.document is None and "HTTP 500" in i.error for i in items)


def test_a_failing_detail_falls_back_on_the_list_s_metadata():
    with serve(gateway(gateway_datasets(2), detail_fails=True)) as site:
        items, incomplete, _ = run(site.base + "/api/v2", {"detail": "always"})
    assert incomplete is None and all(i.document is not None for i in items)


def test_a_list_without_its_wrapper_from_a_server_that_ignores_paging():
    ds = gateway_datasets(5)
    with serve(gateway(ds, unwrapped=True, ignores_paging=True)) as site:
        items, incomplete, calls = run(site.base + "/api/v2", {"per_page": 5})
    assert incomplete is None and len(items) == 5
    assert calls == 2  # the second page repeated the first: the server does not page, all has been seen


def test_a_failing_page_leaves_the_listing_incomplete():
    with serve(gateway(gateway_datasets(9), fail_page=2)) as site:
        items, incomplete, _ = run(site.base + "/api/v2", {"per_page": 4})
    assert len(items) == 4 and "page 2" in incomplete and "HTTP 503" in incomplete


def test_the_same_gateway_gives_the_same_content_bytes():
    ds = gateway_datasets(3)
    with serve(gateway(ds)) as a, serve(gateway(ds, list_metadata=False, metadata_as_string=True)) as b:
        x, _, _ = run(a.base + "/api/v2")
        y, _, _ = run(b.base + "/api/v2")
    assert [i.content for i in x] == [i.content for i in y]  # change detection sees the metadata, not its wrapping


def test_an_answer_that_is_not_a_list_is_said_so():
    with serve(lambda path, q: json_answer({"message": "Unauthenticated."})) as site:
        items, incomplete, _ = run(site.base)
    assert items == [] and "not a dataset list" in incomplete
