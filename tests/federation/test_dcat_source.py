"""The DCAT harvest source against a real HTTP server on 127.0.0.1: every syntax by Content-Type or by
sniffing, Hydra paging, loops and endless paging stopped, unbound prefixes and broken RDF reported, remote
JSON-LD contexts fetched through the job's client, and our own served catalogue read back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import httpx
import pytest

from healthgate.federation.adapters import ListingIncomplete, SourceConfig, adapter
from healthgate.interop import dcat
from tests.conftest import load_fixture

ID = "7c1f4b2e-93a5-4d8e-b6f1-2a9c0e5d7f31"


class Server:
    """Serves ``routes[path] = (content type, body)``; counts requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.hits: list[str] = []
        routes, hits = self.routes, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                found = routes.get(self.path)
                if found is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                media, body = found
                self.send_response(200)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class TinyFetch:
    """A stand-in for the job's guarded client: only the server's host, a request budget."""

    def __init__(self, base: str, budget: int = 100) -> None:
        self.base, self.budget = base, budget
        self.client = httpx.Client(timeout=60, follow_redirects=False)

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> httpx.Response:
        if not url.startswith(self.base + "/"):
            raise PermissionError(f"{url}: host not configured for this source")
        self.budget -= 1
        if self.budget < 0:
            raise RuntimeError("request budget spent")
        return self.client.get(url, params=params, headers=headers)


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as s:
        yield s


def _items(url: str, fetch: TinyFetch, **settings: Any) -> list:
    return list(adapter("dcat").items(SourceConfig(kind="dcat", url=url, settings=settings), fetch))


def _catalog(n: int, site: dcat.Site, *, page: dcat.Page | None = None, url_of: Any = None) -> Any:
    base = load_fixture("hdruk-4.0.0-full.json")
    docs = []
    for i in range(n):
        d = json.loads(json.dumps(base))
        d["summary"]["title"] = f"Cohort {i}"
        docs.append((f"00000000-0000-4000-8000-{i:012d}", d))
    return dcat.catalog_graph(docs, site, page=page, url_of=url_of)


@pytest.mark.parametrize("ext, media", [("ttl", "text/turtle"), ("jsonld", "application/ld+json"),
                                        ("rdf", "application/rdf+xml"), ("ttl", "text/plain"),
                                        ("jsonld", "application/octet-stream"), ("rdf", "")])
def test_each_syntax_by_content_type_or_sniffing(server, ext, media):
    site = dcat.Site(server.base)
    server.routes["/catalog"] = (media, dcat.serialize(_catalog(3, site), ext))
    items = _items(server.base + "/catalog", TinyFetch(server.base))
    assert sorted(i.remote_id for i in items) == [str(site.dataset_iri(f"00000000-0000-4000-8000-{i:012d}"))
                                                  for i in range(3)]
    assert all(i.error is None and i.document["summary"]["populationSize"] == 12418 for i in items)
    assert {i.title for i in items} == {"Cohort 0", "Cohort 1", "Cohort 2"}


def test_same_metadata_serialised_differently_hashes_the_same(server):
    site = dcat.Site(server.base)
    g = _catalog(1, site)
    server.routes["/a"] = ("text/turtle", dcat.serialize(g, "ttl"))
    server.routes["/b"] = ("application/ld+json", dcat.serialize(g, "jsonld"))
    (a,), (b,) = _items(server.base + "/a", TinyFetch(server.base)), _items(server.base + "/b", TinyFetch(server.base))
    assert a.content == b.content and a.remote_id == b.remote_id


def test_hydra_paging_is_followed(server):
    site = dcat.Site(server.base)
    docs = _catalog(5, site)  # to split: serve 3 pages of 2, 2, 1 datasets

    def url_of(n: int) -> str:
        return f"{server.base}/catalog.ttl?page={n}"

    all_ids = sorted(f"00000000-0000-4000-8000-{i:012d}" for i in range(5))
    base = load_fixture("hdruk-4.0.0-full.json")
    for n in (1, 2, 3):
        chunk = all_ids[(n - 1) * 2: n * 2]
        g = dcat.catalog_graph([(i, base) for i in chunk], site, page=dcat.Page(n, 2, 5), url_of=url_of)
        server.routes[f"/catalog.ttl?page={n}"] = ("text/turtle", dcat.serialize(g, "ttl"))
    items = _items(server.base + "/catalog.ttl?page=1", TinyFetch(server.base))
    assert sorted(i.remote_id for i in items) == [str(site.dataset_iri(i)) for i in all_ids]
    assert server.hits == [f"/catalog.ttl?page={n}" for n in (1, 2, 3)]
    assert docs  # the unpaged graph was only a source of ids


def _page(site: dcat.Site, ids: list[str], next_url: str | None) -> bytes:
    g = dcat.catalog_graph([(i, load_fixture("hdruk-4.0.0-minimal.json")) for i in ids], site)
    if next_url:
        g.add((site.catalog_iri, dcat.HYDRA.view, dcat.URIRef(next_url + "#view")))
        g.add((dcat.URIRef(next_url + "#view"), dcat.HYDRA.next, dcat.URIRef(next_url)))
    return dcat.serialize(g, "ttl")


def test_paging_that_loops_stops_and_says_so(server):
    site = dcat.Site(server.base)
    server.routes["/p1"] = ("text/turtle", _page(site, ["a1"], server.base + "/p2"))
    server.routes["/p2"] = ("text/turtle", _page(site, ["a2"], server.base + "/p1"))
    got = []
    with pytest.raises(ListingIncomplete, match=r"repeats page 1.*loops"):
        got.extend(adapter("dcat").items(SourceConfig("dcat", server.base + "/p1"), TinyFetch(server.base)))
    assert [i.remote_id.rsplit("/", 1)[-1] for i in got] == ["a1", "a2"]  # what was read is still harvested


def test_paging_that_never_ends_stops(server):
    site = dcat.Site(server.base)
    for n in range(1, 30):
        server.routes[f"/p{n}"] = ("text/turtle", _page(site, ["same"], f"{server.base}/p{n + 1}"))
    with pytest.raises(ListingIncomplete, match="only repeats datasets of earlier pages"):
        _items(server.base + "/p1", TinyFetch(server.base))
    for n in range(1, 30):
        server.routes[f"/p{n}"] = ("text/turtle", _page(site, [f"d{n}"], f"{server.base}/p{n + 1}"))
    with pytest.raises(ListingIncomplete, match="after 5 pages"):
        _items(server.base + "/p1", TinyFetch(server.base), max_pages=5)


def test_unbound_prefix_is_reported_clearly(server):
    server.routes["/bad.ttl"] = ("text/turtle", (b"@prefix dcat: <http://www.w3.org/ns/dcat#> .\n"
                                                b"<https://x.test/d> a dcat:Dataset ; dct:title \"t\" .\n"))
    with pytest.raises(ListingIncomplete) as exc:
        _items(server.base + "/bad.ttl", TinyFetch(server.base))
    message = str(exc.value)
    assert "page 1" in message and "/bad.ttl" in message and "Turtle" in message
    assert "prefix is used without being declared" in message and "dct" in message


@pytest.mark.parametrize("media, body, syntax", [
    ("application/rdf+xml", b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><unclosed>",
     "RDF/XML"),
    ("application/ld+json", b'{"@context": {"dcat": "http://www.w3.org/ns/dcat#"}, "@id": ', "JSON-LD"),
    ("text/turtle", b"<https://x.test/a> <https://x.test/b> .", "Turtle"),
])
def test_invalid_rdf_is_reported(server, media, body, syntax):
    server.routes["/bad"] = (media, body)
    with pytest.raises(ListingIncomplete, match=f"not valid {syntax}"):
        _items(server.base + "/bad", TinyFetch(server.base))


def test_http_errors_and_refusals_end_the_listing_with_a_reason(server):
    with pytest.raises(ListingIncomplete, match="answered HTTP 404"):
        _items(server.base + "/missing", TinyFetch(server.base))
    with pytest.raises(ListingIncomplete, match="could not be fetched: .*host not configured"):
        _items("http://192.0.2.1/catalog", TinyFetch(server.base))


def test_xml_entities_are_refused(server):
    server.routes["/x"] = ("application/rdf+xml", (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]>'
                                                   b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/>"))
    with pytest.raises(ListingIncomplete, match="entities"):
        _items(server.base + "/x", TinyFetch(server.base))


def test_remote_jsonld_context_goes_through_the_guarded_client(server):
    server.routes["/ctx.jsonld"] = ("application/ld+json", json.dumps({"@context": {
        "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
        "title": {"@id": "dct:title", "@language": "en"}, "Dataset": "dcat:Dataset"}}).encode())
    server.routes["/cat.jsonld"] = ("application/ld+json", json.dumps({
        "@context": server.base + "/ctx.jsonld",
        "@graph": [{"@id": "https://x.test/d1", "@type": "Dataset", "title": "Remote context dataset"}]}).encode())
    (item,) = _items(server.base + "/cat.jsonld", TinyFetch(server.base))
    assert item.title == "Remote context dataset" and "/ctx.jsonld" in server.hits
    server.routes["/cat2.jsonld"] = ("application/ld+json", json.dumps({
        "@context": "http://192.0.2.1/elsewhere.jsonld", "@id": "https://x.test/d2"}).encode())
    with pytest.raises(ListingIncomplete, match="host not configured"):
        _items(server.base + "/cat2.jsonld", TinyFetch(server.base))


def test_blank_node_datasets(server):
    server.routes["/b.ttl"] = ("text/turtle", b"""@prefix dcat: <http://www.w3.org/ns/dcat#> .
        @prefix dct: <http://purl.org/dc/terms/> .
        [] a dcat:Dataset ; dct:identifier "REG-7" ; dct:title "Identified"@en .
        [] a dcat:Dataset ; dct:title "Anonymous"@en .""")
    items = sorted(_items(server.base + "/b.ttl", TinyFetch(server.base)), key=lambda i: i.remote_id)
    assert [(i.remote_id, i.error is None) for i in items][1] == ("REG-7", True)
    assert items[0].error and "neither an IRI nor a dct:identifier" in items[0].error
