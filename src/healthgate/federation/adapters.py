"""What a kind of harvest source implements: turn a remote catalogue into items, each the remote id, the
content as received (hashed for change detection) and an HDR UK metadata document the catalogue checks.

An adapter never writes and never opens its own connections: it reads through the ``Fetch`` the job gives it,
which enforces the source's hosts, redirects, size limits, rate limits and retries. Each adapter lives in
``federation/sources/<kind>.py`` and maps its format with a module of ``interop/`` (every mapping documented
field by field in docs/; the FMA's in docs/federation-harvest.md).

Listing: ``items`` yields one ``Item`` per remote item, in the source's order. An item that cannot be read
(a detail route that fails, a document that does not parse) is an ``Item`` with ``error`` set; the job
records it and goes on. If the *listing* itself cannot be completed (a page fails after its retries, the
source pages for ever), ``items`` raises ``ListingIncomplete``: the items yielded so far are still harvested,
but nothing is archived, because a partial listing says nothing about what is gone.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

# kind -> module that implements it (imported on first use)
KINDS: dict[str, str] = {
    "hdruk-fma": "healthgate.federation.sources.fma",
    "dcat": "healthgate.federation.sources.dcat",
    "ckan": "healthgate.federation.sources.ckan",
    "gwdm": "healthgate.federation.sources.gwdm",
}
LABELS: dict[str, str] = {
    "hdruk-fma": "HDR UK federated metadata catalogue API",
    "dcat": "DCAT-AP catalogue (Turtle, RDF/XML, JSON-LD)",
    "ckan": "CKAN action API",
    "gwdm": "Gateway Data Model (HDR UK gateway dataset API)",
}


class ListingIncomplete(Exception):
    """The listing could not be completed; the message says where and why."""


@dataclass(frozen=True)
class SourceConfig:
    """A source as an adapter sees it (no database row)."""

    kind: str
    url: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Item:
    remote_id: str
    content: bytes = b""  # the remote content as received (what the change hash is taken of)
    document: dict[str, Any] | None = None  # HDR UK metadata (bare, or {"schemaVersion", "metadata"} envelope)
    error: str | None = None  # why this item could not be read (then ``document`` is None)
    title: str | None = None  # for reports, when known


class Fetch(Protocol):
    """The guarded HTTP client a job hands to its adapter (``federation.fetch.GuardedFetch``). It returns the
    response whatever its status (after its own retries of 5xx and 429), and raises a subclass of
    ``httpx.HTTPError`` (``federation.fetch.FetchError``: refused host or redirect, too large, unreachable,
    rate limited) with a message naming the URL: catch ``httpx.HTTPError`` to turn it into an item's error or
    a ``ListingIncomplete``. Safe to call from several threads."""

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> httpx.Response: ...


class Adapter(Protocol):
    kind: str

    def items(self, source: SourceConfig, fetch: Fetch) -> Iterator[Item]: ...


def adapter(kind: str) -> Adapter:
    if kind not in KINDS:
        raise KeyError(f"unknown source kind {kind!r}; one of: {', '.join(KINDS)}")
    module = importlib.import_module(KINDS[kind])
    found: Adapter = module.ADAPTER
    return found
