"""Harvest an HDR UK Federated Metadata Catalogue API (kind ``hdruk-fma``): page through ``/datasets`` with
``limit`` and ``offset`` (and ``q`` when the source has a query), then read each ``/datasets/{id}``.

Source settings (all optional): ``page_size`` (1-1000, default 100), ``query`` (the ``q`` parameter),
``max_items`` (stop and report after this many items, default 200,000), ``concurrency`` (detail requests in
flight at once, 1-16, default 4).

What real sources do and what happens then:

- a list without the ``{query, items}`` wrapper (a bare array, or items under ``data``/``results``): read;
- a list that ignores ``limit`` (everything at once) or ``offset`` (the same page again): the first is the
  whole listing; the second stops with ``ListingIncomplete`` instead of paging for ever;
- paging that never ends: stops at ``max_items`` with ``ListingIncomplete``;
- a detail route that fails (an error status, not JSON, too large, timed out) while the list works: that
  item's error, the others go on;
- items changing between pages (``query.total`` changes, an item shows up twice, fewer items than the total):
  everything read is harvested, and ``ListingIncomplete`` says why nothing can be archived this time.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx

from healthgate.federation.adapters import Fetch, Item, ListingIncomplete, SourceConfig
from healthgate.interop import fma

DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_ITEMS = 200_000
DEFAULT_CONCURRENCY = 4


def _setting(source: SourceConfig, key: str, default: int, lo: int, hi: int) -> int:
    value = source.settings.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return min(max(value, lo), hi)


def base_url(url: str) -> str:
    """The API's base: the configured URL without a trailing slash or ``/datasets``."""
    url = url.strip().rstrip("/")
    return url.removesuffix("/datasets")


class FmaAdapter:
    kind = "hdruk-fma"

    def items(self, source: SourceConfig, fetch: Fetch) -> Iterator[Item]:
        page_size = _setting(source, "page_size", DEFAULT_PAGE_SIZE, 1, 1000)
        max_items = _setting(source, "max_items", DEFAULT_MAX_ITEMS, 1, 10_000_000)
        workers = _setting(source, "concurrency", DEFAULT_CONCURRENCY, 1, 16)
        query = source.settings.get("query")
        base = base_url(source.url)
        seen: set[str] = set()
        first_total: int | None = None
        first_len: int | None = None
        problems: list[str] = []
        unidentified = duplicates = 0
        offset = 0
        last_page: str | None = None
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fma-detail") as pool:
            while True:
                if len(seen) >= max_items:
                    raise ListingIncomplete(f"stopped after {len(seen)} items (settings.max_items): the source "
                                            f"kept paging; nothing archived")
                params: dict[str, Any] = {"limit": page_size, "offset": offset}
                if isinstance(query, str) and query:
                    params["q"] = query
                page = self._page(fetch, f"{base}/datasets", params, offset)
                if not page.items:
                    break
                if first_len is None:
                    first_total, first_len = page.total, len(page.items)
                elif page.total is not None and first_total is not None and page.total != first_total:
                    problems.append(f"the total went from {first_total} to {page.total} while paging")
                    first_total = page.total
                fresh: list[fma.Summary] = []
                repeated = 0  # items of this page already listed, or without an id as on the page before
                fingerprint = repr(page.items)
                if fingerprint == last_page:
                    if len(page.items) < page_size:  # a short page, again: it was everything the source has
                        break
                    raise ListingIncomplete(f"the page at offset {offset} repeats the page before it (the source "
                                            f"ignores offset); stopped, nothing archived")
                last_page = fingerprint
                for n, raw in enumerate(page.items):
                    try:
                        s = fma.summary(raw)
                    except fma.FormatError as exc:
                        unidentified += 1
                        yield Item(remote_id=f"(list item at offset {offset + n})", error=str(exc))
                        continue
                    if s.remote_id in seen:
                        duplicates += 1
                        repeated += 1
                        continue
                    seen.add(s.remote_id)
                    fresh.append(s)
                if not fresh and repeated:
                    raise ListingIncomplete(f"the page at offset {offset} only repeats items already listed "
                                            f"(the source ignores offset); stopped, nothing archived")
                yield from pool.map(lambda s: self._detail(fetch, base, s), fresh)
                offset += len(page.items)
                if len(page.items) > page_size:  # the source ignored limit: that was everything
                    break
                if page.total is not None:
                    if offset >= page.total:
                        break
                elif len(page.items) < min(page_size, first_len):
                    break
        if duplicates:
            problems.append(f"{duplicates} items were listed twice (the listing shifted between pages)")
        if first_total is not None and len(seen) + unidentified < first_total and not problems:
            problems.append(f"the source announced {first_total} items but listed {len(seen) + unidentified}")
        if unidentified:
            problems.append(f"{unidentified} list items had no id")
        if problems:
            raise ListingIncomplete("; ".join(problems) + ": every item read was harvested, nothing archived")

    @staticmethod
    def _page(fetch: Fetch, url: str, params: dict[str, Any], offset: int) -> fma.Page:
        try:
            response = fetch.get(url, params=params)
        except httpx.HTTPError as exc:
            raise ListingIncomplete(f"the list page at offset {offset} could not be read: {exc}") from exc
        if response.status_code != 200:
            raise ListingIncomplete(f"the list page at offset {offset} answered HTTP {response.status_code}")
        try:
            return fma.parse_page(response.content)
        except fma.FormatError as exc:
            raise ListingIncomplete(f"the list page at offset {offset}: {exc}") from exc

    @staticmethod
    def _detail(fetch: Fetch, base: str, s: fma.Summary) -> Item:
        url = f"{base}/datasets/{quote(s.remote_id, safe='')}"
        try:
            response = fetch.get(url)
        except httpx.HTTPError as exc:
            return Item(s.remote_id, error=f"the dataset could not be read: {exc}", title=s.name)
        if response.status_code != 200:
            return Item(s.remote_id, error=f"{url} answered HTTP {response.status_code}", title=s.name)
        try:
            document = fma.detail(response.content)
        except fma.FormatError as exc:
            return Item(s.remote_id, error=f"{url}: {exc}", title=s.name)
        return Item(s.remote_id, content=response.content, document=document, title=s.name)


ADAPTER = FmaAdapter()
