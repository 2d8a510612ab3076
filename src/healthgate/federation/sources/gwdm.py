"""Another gateway's dataset API in HDR UK's Gateway Data Model (GWDM 2.x), as HDR UK's own gateway serves it:
``GET {base}/datasets?page=N&per_page=P&status=ACTIVE`` answers a Laravel page (``{"data": [...],
"current_page", "last_page", "total", ...}``) whose datasets carry ``latest_metadata``; ``GET
{base}/datasets/{id}`` answers ``{"message", "data": {..., "versions": [{"metadata": {"metadata": GWDM}}]}}``.
Each GWDM document is mapped by ``interop.gwdm``.

Real gateways deviate, and this adapter reads what it can: a list without its ``data`` wrapper, metadata held
as a JSON string, a detail route that fails while the list works (the list's own metadata is used when it has
some), a server that ignores the page parameter (a page repeating the previous one ends the listing).

Source URL: the API base (``https://api.example.org/api/v2``) or its dataset list (``.../datasets``).
Settings (all optional): ``per_page`` or ``page_size`` (100; 1-1000), ``status`` (``ACTIVE``; empty for no
filter), ``detail`` (``auto``: only for datasets the list holds no metadata for | ``always`` | ``never``),
``concurrency`` (detail requests at once, 4; 1-16), ``max_pages`` (10000) and ``max_items`` (200000): a listing
longer than either is incomplete.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from healthgate.federation.adapters import Fetch, Item, ListingIncomplete, SourceConfig
from healthgate.federation.sources._json import FetchFailed, canonical_bytes, get_json, setting_int
from healthgate.interop import gwdm

_LIST_KEYS = ("data", "items", "results", "datasets")


def list_url(base: str) -> str:
    root = base.rstrip("/")
    return root if root.endswith("/datasets") else f"{root}/datasets"


def _entries(value: Any, depth: int = 0) -> tuple[list[Any], dict[str, Any]] | None:
    """The datasets of a list answer and the object that held them (its paging fields), wrapped or not."""
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict) and depth < 3:
        for key in _LIST_KEYS:
            inner = value.get(key)
            if isinstance(inner, list):
                return inner, value
            if isinstance(inner, dict):
                found = _entries(inner, depth + 1)
                if found is not None:
                    return found
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _title(doc: dict[str, Any] | None, entry: Any) -> str | None:
    summary = doc.get("summary") if isinstance(doc, dict) else None
    title = summary.get("title") if isinstance(summary, dict) else None
    if not title and isinstance(entry, dict):
        title = entry.get("title") or entry.get("name") or entry.get("short_title")
    return str(title) if title else None


class GwdmAdapter:
    kind = "gwdm"

    def items(self, source: SourceConfig, fetch: Fetch) -> Iterator[Item]:
        settings = source.settings or {}
        per_page = setting_int(settings, ("per_page", "page_size"), 100, 1, 1000)
        max_pages = setting_int(settings, "max_pages", 10_000, 1, 10**6)
        max_items = setting_int(settings, "max_items", 200_000, 1, 10_000_000)
        workers = setting_int(settings, "concurrency", 4, 1, 16)
        detail = str(settings.get("detail", "auto"))
        url = list_url(source.url)
        params: dict[str, Any] = {"per_page": per_page, "with_metadata": "true"}
        status = settings.get("status", "ACTIVE")
        if status:
            params["status"] = str(status)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gwdm-detail") as pool:
            yield from self._pages(url, params, fetch, detail, pool, max_pages=max_pages, max_items=max_items,
                                   per_page=per_page)

    def _pages(self, url: str, params: dict[str, Any], fetch: Fetch, detail: str, pool: ThreadPoolExecutor, *,
               max_pages: int, max_items: int, per_page: int) -> Iterator[Item]:
        seen: set[str] = set()
        previous: list[str | None] | None = None
        total: int | None = None
        for page in range(1, max_pages + 2):
            if page == max_pages + 1:
                raise ListingIncomplete(f"{url}: more than {max_pages} pages; stopped (max_pages)")
            if len(seen) >= max_items:
                raise ListingIncomplete(f"{url}: stopped after {len(seen)} datasets (max_items)")
            try:
                value, _ = get_json(fetch, url, {**params, "page": page})
            except FetchFailed as exc:
                raise ListingIncomplete(f"page {page}: {exc}") from None
            found = _entries(value)
            if found is None:
                raise ListingIncomplete(f"{url} page {page}: not a dataset list (no list of datasets in the answer)")
            entries, paging = found
            ids = [self._remote_id(e) for e in entries]
            if previous is not None and ids and ids == previous:
                break  # the server ignores paging: this page repeats the last, everything has been seen
            previous = ids
            if total is None:
                total = _int(paging.get("total"))
            fresh: list[tuple[str, dict[str, Any]]] = []
            for entry, remote_id in zip(entries, ids, strict=True):
                if remote_id is None:
                    yield Item(remote_id=f"(page {page}, unnamed)", error="a dataset with neither pid nor id",
                               title=_title(None, entry))
                    continue
                if remote_id in seen:
                    continue
                seen.add(remote_id)
                fresh.append((remote_id, entry))
            # details (when needed) a few at a time; items come out in the list's order
            yield from pool.map(lambda r: self._item(r[0], r[1], url, fetch, detail), fresh)
            last = _int(paging.get("last_page"))
            if not entries or (last is not None and page >= last) or (total is not None and len(seen) >= total):
                break
            if last is None and total is None and not paging.get("next_page_url") and len(entries) < per_page:
                break
        if total is not None and len(seen) < total:
            raise ListingIncomplete(f"{url}: announced {total} datasets but the pages held {len(seen)}")

    @staticmethod
    def _remote_id(entry: Any) -> str | None:
        if not isinstance(entry, dict):
            return None
        for key in ("pid", "persistentId", "id"):
            if entry.get(key) not in (None, ""):
                return str(entry[key])
        doc = gwdm.find_document(entry)
        req = doc.get("required") if doc else None
        pid = req.get("gatewayPid") if isinstance(req, dict) else None
        return str(pid) if pid else None

    def _item(self, remote_id: str, entry: dict[str, Any], url: str, fetch: Fetch, detail: str) -> Item:
        listed = gwdm.find_document(entry)
        doc = listed if detail != "always" else None
        problem = None
        if doc is None and detail != "never":
            key = entry.get("id") if entry.get("id") not in (None, "") else remote_id
            try:
                value, _ = get_json(fetch, f"{url}/{key}")
                doc = gwdm.find_document(value)
                if doc is None:
                    problem = f"GET {url}/{key}: no GWDM metadata in the answer"
            except FetchFailed as exc:
                problem = str(exc)
            if doc is None:
                doc = listed  # the list had metadata: harvest it rather than nothing
        if doc is None:
            return Item(remote_id=remote_id, error=problem or "the list holds no metadata for this dataset "
                                                              "(detail requests are switched off)",
                        title=_title(None, entry))
        content = canonical_bytes(doc)
        try:
            document = gwdm.to_hdruk(doc)
        except Exception as exc:  # noqa: BLE001  (one unreadable document fails alone)
            return Item(remote_id=remote_id, content=content, title=_title(doc, entry),
                        error=f"cannot map this GWDM document: {type(exc).__name__}: {str(exc)[:200]}")
        return Item(remote_id=remote_id, content=content, document=document, title=_title(doc, entry))


ADAPTER = GwdmAdapter()
