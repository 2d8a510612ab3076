"""The FMA format (interop.fma) and adapter (federation.sources.fma) without a database: what real sources send
instead of the documented shapes, and paging that ends, or is stopped, for each way a listing behaves."""

from __future__ import annotations

import pytest

from healthgate.federation.adapters import ListingIncomplete, SourceConfig, adapter
from healthgate.federation.fetch import GuardedFetch
from healthgate.interop import fma
from tests.federation.fakes import Answer, FmaSource, document


def test_parse_page_reads_the_documented_form_and_its_deviations():
    page = fma.parse_page(b'{"query": {"q": "", "total": "3", "limit": 2, "offset": 0}, "items": [{"a": 1}]}')
    assert (page.items, page.total, page.wrapped) == ([{"a": 1}], 3, True)
    bare = fma.parse_page(b'[{"persistentId": "x"}]')
    assert not bare.wrapped and bare.total is None and bare.notes
    assert fma.parse_page(b'{"results": [], "count": 7}').total == 7
    with pytest.raises(fma.FormatError, match="no items"):
        fma.parse_page(b'{"query": {"total": 1}}')
    with pytest.raises(fma.FormatError, match="not JSON"):
        fma.parse_page(b"<html>maintenance</html>")
    with pytest.raises(fma.FormatError, match="JSON str"):
        fma.parse_page(b'"hello"')


def test_summary_ids_and_detail_unwrapping():
    assert fma.summary({"persistentId": " p1 ", "identifier": "i1", "name": "N"}).remote_id == "p1"
    assert fma.summary({"identifier": "i1"}).remote_id == "i1"
    assert fma.summary({"id": 42}).remote_id == "42"
    with pytest.raises(fma.FormatError, match="'Lonely'.*no persistentId"):
        fma.summary({"name": "Lonely"})
    with pytest.raises(fma.FormatError, match="not an object"):
        fma.summary(["x"])
    assert fma.detail(b'{"data": {"summary": {"title": "T"}}}') == {"summary": {"title": "T"}}
    assert fma.detail(b'{"schemaVersion": "4.0.0", "metadata": {}}')["schemaVersion"] == "4.0.0"
    with pytest.raises(fma.FormatError, match="JSON list"):
        fma.detail(b"[]")


def items(src: FmaSource, **settings):
    config = SourceConfig("hdruk-fma", src.url + "/datasets/", {"retries": 0, **settings})
    with GuardedFetch(config, sleep=lambda s: None) as fetch:
        return list(adapter("hdruk-fma").items(config, fetch))


@pytest.fixture
def src():
    with FmaSource() as s:
        for i in range(7):
            s.add(f"id {i}/x", document(f"Dataset {i}"))  # ids that need percent-encoding
        yield s


def test_pages_until_the_total_with_encoded_ids(src):
    got = items(src, page_size=3)
    assert [i.remote_id for i in got] == [f"id {i}/x" for i in range(7)]
    assert all(i.error is None and i.document["summary"]["title"] == f"Dataset {n}" for n, i in enumerate(got))
    assert src.hits("/datasets") == 3


def test_a_source_that_caps_limit_without_a_total_is_paged_through(src):
    src.total, src.max_limit = False, 2
    assert len(items(src, page_size=5)) == 7


def test_a_source_that_ignores_limit_is_read_in_one_page(src):
    src.wrapper = False
    src.route("/datasets", lambda req: Answer(200, [src.gmi(k, v) for k, v in src.datasets.items()]))
    assert len(items(src, page_size=2)) == 7 and src.hits("/datasets") == 1


def test_a_page_failing_midway_keeps_what_was_read(src):
    config = SourceConfig("hdruk-fma", src.url, {"retries": 0, "page_size": 3})
    seen = []
    with GuardedFetch(config, sleep=lambda s: None) as fetch:
        src.route("/datasets", _fail_second_page(src))
        with pytest.raises(ListingIncomplete, match="offset 3 answered HTTP 503"):
            for item in adapter("hdruk-fma").items(config, fetch):
                seen.append(item.remote_id)
    assert len(seen) == 3


def _fail_second_page(src: FmaSource):
    listing = src._list

    def answer(req):
        if req.query.get("offset") == "3":
            return Answer(503, "busy")
        return listing(req)
    return answer


def test_fewer_items_than_announced_is_an_incomplete_listing(src):
    src.route("/datasets", lambda req: Answer(200, {"query": {"total": 9}, "items": [
        src.gmi(k, v) for k, v in list(src.datasets.items())[int(req.query["offset"]):][:100]]}))
    with pytest.raises(ListingIncomplete, match="announced 9 items but listed 7"):
        items(src)


def test_items_without_ids_are_reported_and_block_archiving(src):
    src.route("/datasets", lambda req: Answer(200, {"items": [{"name": "No id"}, src.gmi("a", document("A"))]}))
    src.add("a", document("A"))
    config = SourceConfig("hdruk-fma", src.url, {"retries": 0})
    got = []
    with GuardedFetch(config, sleep=lambda s: None) as fetch:
        with pytest.raises(ListingIncomplete, match="1 list items had no id"):
            for item in adapter("hdruk-fma").items(config, fetch):
                got.append(item)
    assert got[0].error and "no persistentId" in got[0].error and got[1].remote_id == "a"
