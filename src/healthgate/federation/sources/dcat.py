"""Harvest a DCAT-AP catalogue (Turtle, RDF/XML or JSON-LD; DCAT-AP 2 or 3, HealthDCAT-AP properties).

The source URL is the catalogue document (or its first page). Each response is parsed by its Content-Type,
or, when that says nothing useful (``text/plain``, ``application/octet-stream``), by sniffing the first bytes.
Paged catalogues are followed through Hydra (``hydra:next``, or the older ``hydra:nextPage``) relative to the
page's address; the listing stops, reported incomplete, on a page that repeats an earlier address, on a page
whose datasets were all seen already, after ``max_pages`` pages (setting, default 10,000), or on a page that
cannot be fetched or parsed: everything read before is still harvested, nothing is archived.

Each ``dcat:Dataset`` becomes an ``Item`` whose remote id is its IRI, whose document is the HDR UK 4.0.0
mapping of ``interop.dcat_read``, and whose content (what change detection hashes) is that document as
canonical JSON: a catalogue that serialises the same metadata differently (blank node labels, order) does not
count as changed. A JSON-LD ``@context`` given by address is fetched through the job's guarded client (so
the source's host rules apply to it too), never by the RDF library itself; RDF/XML declaring entities is
refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import orjson
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCTERMS

from healthgate.federation.adapters import Fetch, Item, ListingIncomplete, SourceConfig
from healthgate.interop import dcat_read

ACCEPT = ("text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8, application/n-triples;q=0.5, "
          "*/*;q=0.1")
HYDRA_NAMESPACES = (Namespace("http://www.w3.org/ns/hydra/core#"), Namespace("https://www.w3.org/ns/hydra/core#"))
FORMATS_BY_MEDIA = {
    "text/turtle": "turtle", "application/x-turtle": "turtle", "text/n3": "n3", "application/n-triples": "nt",
    "application/rdf+xml": "xml", "application/xml": "xml", "text/xml": "xml",
    "application/ld+json": "json-ld", "application/json": "json-ld",
}
NAMES = {"turtle": "Turtle", "n3": "N3", "nt": "N-Triples", "xml": "RDF/XML", "json-ld": "JSON-LD"}
MAX_PAGES = 10_000
MAX_CONTEXT_FETCHES = 20


def sniff(body: bytes) -> str:
    """The RDF syntax of a document from its first bytes."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        return "json-ld"
    if head[:1] == b"<" and not head.startswith(b"<http") and not head.startswith(b"<urn:"):
        return "xml"
    return "turtle"


def syntax_of(content_type: str | None, body: bytes) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media.endswith("+json") and media != "application/ld+json":
        media = "application/json"
    return FORMATS_BY_MEDIA.get(media) or sniff(body)


class _Contexts:
    """Remote JSON-LD contexts, fetched through the job's client and inlined (once per listing)."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch
        self.cache: dict[str, Any] = {}

    def get(self, url: str) -> Any:
        if url not in self.cache:
            if len(self.cache) >= MAX_CONTEXT_FETCHES:
                raise ValueError(f"more than {MAX_CONTEXT_FETCHES} remote JSON-LD contexts")
            response = self.fetch.get(url, headers={"Accept": "application/ld+json, application/json"})
            if response.status_code >= 400:
                raise ValueError(f"JSON-LD context {url} answered HTTP {response.status_code}")
            value = json.loads(response.content)
            self.cache[url] = value.get("@context", {}) if isinstance(value, dict) else {}
        return self.cache[url]

    def inline(self, value: Any, base: str) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key == "@context":
                    out[key] = self._context(item, base)
                else:
                    out[key] = self.inline(item, base)
            return out
        if isinstance(value, list):
            return [self.inline(v, base) for v in value]
        return value

    def _context(self, ctx: Any, base: str) -> Any:
        if isinstance(ctx, str):
            return self._context(self.get(urljoin(base, ctx)), base)
        if isinstance(ctx, list):
            flat: list[Any] = []
            for c in ctx:
                resolved = self._context(c, base)
                flat.extend(resolved if isinstance(resolved, list) else [resolved])
            return flat
        return ctx


def parse(body: bytes, syntax: str, url: str, contexts: _Contexts) -> Graph:
    """``body`` as an RDF graph; ``ValueError`` saying what is wrong and where, in the syntax's own words."""
    g = Graph()
    if syntax == "xml" and b"<!ENTITY" in body:
        raise ValueError(f"{url}: RDF/XML declaring entities (<!ENTITY) is refused")
    try:
        if syntax == "json-ld":
            data = contexts.inline(json.loads(body), url)
            g.parse(data=json.dumps(data), format="json-ld", publicID=url)
        else:
            g.parse(data=body, format=syntax, publicID=url)
    except ValueError as exc:
        if str(exc).startswith(url):
            raise
        raise ValueError(f"{url}: not valid {NAMES[syntax]}: {_first_line(exc)}") from exc
    except Exception as exc:
        raise ValueError(f"{url}: not valid {NAMES[syntax]}: {_first_line(exc)}") from exc
    return g


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if "not bound" in text or "Prefix" in text and "bound" in text:
        return "a prefix is used without being declared (" + text[:300] + ")"
    return text[:400] or type(exc).__name__


def next_page(g: Graph, url: str) -> str | None:
    for hydra in HYDRA_NAMESPACES:
        for prop in (hydra.next, hydra.nextPage):
            for target in g.objects(None, prop):
                if isinstance(target, URIRef):
                    return urljoin(url, str(target))
    return None


class DcatAdapter:
    kind = "dcat"

    def items(self, source: SourceConfig, fetch: Fetch) -> Iterator[Item]:
        max_pages = int(source.settings.get("max_pages") or MAX_PAGES)
        contexts = _Contexts(fetch)
        url: str | None = source.url
        pages: list[str] = []
        seen: set[str] = set()
        while url is not None:
            if url in pages:
                raise ListingIncomplete(f"page {len(pages) + 1} ({url}) repeats page {pages.index(url) + 1}: "
                                        "the catalogue's paging loops")
            if len(pages) >= max_pages:
                raise ListingIncomplete(f"stopped after {max_pages} pages (the max_pages setting); {url} was next")
            pages.append(url)
            try:
                response = fetch.get(url, headers={"Accept": ACCEPT})
            except ListingIncomplete:
                raise
            except Exception as exc:
                raise ListingIncomplete(f"page {len(pages)} ({url}) could not be fetched: {exc}") from exc
            if response.status_code >= 400:
                raise ListingIncomplete(f"page {len(pages)} ({url}) answered HTTP {response.status_code}")
            body = response.content
            syntax = syntax_of(response.headers.get("content-type"), body)
            try:
                graph = parse(body, syntax, url, contexts)
            except ValueError as exc:
                raise ListingIncomplete(f"page {len(pages)}: {exc}") from exc
            nodes = dcat_read.dataset_nodes(graph)
            fresh = 0
            for node in nodes:
                item = self._item(graph, node)
                if item.remote_id in seen:
                    continue  # the catalogue changed between pages and showed it again: harvested once
                seen.add(item.remote_id)
                fresh += 1
                yield item
            following = next_page(graph, url)
            if nodes and not fresh and following is not None:
                raise ListingIncomplete(f"page {len(pages)} ({url}) only repeats datasets of earlier pages")
            url = following

    @staticmethod
    def _item(graph: Graph, node: Any) -> Item:
        if isinstance(node, URIRef):
            remote_id = str(node)
        else:
            identifier = graph.value(node, DCTERMS.identifier)
            if identifier is None or not str(identifier).strip():
                title = dcat_read._text(graph, node, DCTERMS.title)
                return Item(remote_id=f"(unnamed dataset {title or ''})".strip(), title=title,
                            error="a dataset with neither an IRI nor a dct:identifier cannot be followed between "
                                  "harvests")
            remote_id = str(identifier).strip()
        try:
            doc = dcat_read.read_dataset(graph, node)
        except Exception as exc:  # noqa: BLE001 - one unreadable dataset is reported, the rest go on
            return Item(remote_id=remote_id, error=f"could not be read: {exc}")
        return Item(remote_id=remote_id, content=orjson.dumps(doc, option=orjson.OPT_SORT_KEYS), document=doc,
                    title=doc["summary"].get("title"))


ADAPTER = DcatAdapter()
