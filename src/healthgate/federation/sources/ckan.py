"""A CKAN site through its action API: ``package_search`` paged with ``rows``/``start`` (sorted so that pages do
not shift), and ``package_show`` for a package the search returned without its extras or resources (sites that
restrict the search's fields). Each package is mapped by ``interop.ckan``.

Source URL: the site's root (``https://data.example.org``) or its action API (``.../api/3/action``).
Settings (all optional): ``rows`` or ``page_size`` (100; 1-1000), ``q`` or ``query`` and ``fq`` Solr query and
filter (e.g. ``organization:nhs-wessex``), ``sort`` (``id asc``), ``include_private`` (false), ``package_show``
(``auto`` | ``always`` | ``never``), ``max_pages`` (10000) and ``max_items`` (200000): a listing longer than
either is incomplete.

The listing is complete only when every page up to the count the first page announced was read; a page that
fails, a count that changes while paging, or more pages than announced make it incomplete (nothing is archived).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from healthgate.federation.adapters import Fetch, Item, ListingIncomplete, SourceConfig
from healthgate.federation.sources._json import FetchFailed, canonical_bytes, get_json, setting_int
from healthgate.interop import ckan

VOLATILE = ("tracking_summary", "score")  # change on every view or query: not content


def action_url(base: str, action: str) -> str:
    root = base.rstrip("/")
    for suffix in ("/api/3/action", "/api/action"):
        if root.endswith(suffix):
            return f"{root}/{action}"
    if root.endswith(("/api/3", "/api")):
        return f"{root}/action/{action}"
    return f"{root}/api/3/action/{action}"


def _result(value: Any, url: str) -> Any:
    """The ``result`` of a CKAN action answer (``{"success": true, "result": ...}``)."""
    if isinstance(value, dict) and "result" in value:
        if value.get("success") is False:
            raise FetchFailed(f"{url}: CKAN said {str(value.get('error'))[:200]}")
        return value["result"]
    if isinstance(value, dict) and value.get("success") is False:
        raise FetchFailed(f"{url}: CKAN said {str(value.get('error'))[:200]}")
    return value  # a proxy that strips the envelope


class CkanAdapter:
    kind = "ckan"

    def items(self, source: SourceConfig, fetch: Fetch) -> Iterator[Item]:
        settings = source.settings or {}
        rows = setting_int(settings, ("rows", "page_size"), 100, 1, 1000)
        max_pages = setting_int(settings, "max_pages", 10_000, 1, 10**6)
        max_items = setting_int(settings, "max_items", 200_000, 1, 10_000_000)
        show = str(settings.get("package_show", "auto"))
        search = action_url(source.url, "package_search")
        params: dict[str, Any] = {"rows": rows, "sort": str(settings.get("sort") or "id asc")}
        q = settings.get("q") or settings.get("query")
        if q:
            params["q"] = str(q)
        if settings.get("fq"):
            params["fq"] = str(settings["fq"])
        if settings.get("include_private"):
            params["include_private"] = "true"
        seen: set[str] = set()
        announced: int | None = None
        start = 0
        for page in range(max_pages + 1):
            if page == max_pages:
                raise ListingIncomplete(f"{search}: more than {max_pages} pages of {rows}; stopped (max_pages)")
            if len(seen) >= max_items:
                raise ListingIncomplete(f"{search}: stopped after {len(seen)} packages (max_items)")
            try:
                value, _ = get_json(fetch, search, {**params, "start": start})
                result = _result(value, search)
            except FetchFailed as exc:
                raise ListingIncomplete(f"page at start={start}: {exc}") from None
            packages, count = self._page(result, search, start)
            if announced is None:
                announced = count
            elif count is not None and count != announced:
                yield from self._packages(packages, seen, source, fetch, show)
                raise ListingIncomplete(f"{search}: the catalogue changed while it was listed (count {announced} "
                                        f"then {count} at start={start}); run again")
            yield from self._packages(packages, seen, source, fetch, show)
            start += len(packages)
            if not packages or (announced is not None and start >= announced):
                break
            if announced is None and len(packages) < rows:
                break
        if announced is not None and start < announced:
            raise ListingIncomplete(f"{search}: announced {announced} packages but the pages held {start}")

    @staticmethod
    def _page(result: Any, url: str, start: int) -> tuple[list[dict[str, Any]], int | None]:
        if isinstance(result, dict) and isinstance(result.get("results"), list):
            count = result.get("count")
            return [p for p in result["results"] if isinstance(p, dict)], count if isinstance(count, int) else None
        if isinstance(result, list):  # a list without its documented wrapper
            return [p for p in result if isinstance(p, dict)], None
        raise ListingIncomplete(f"{url} at start={start}: not a package_search result (no results list)")

    def _packages(self, packages: list[dict[str, Any]], seen: set[str], source: SourceConfig, fetch: Fetch,
                  show: str) -> Iterator[Item]:
        for package in packages:
            remote_id = str(package.get("id") or package.get("name") or "")
            if not remote_id:
                yield Item(remote_id=f"(unnamed at position {len(seen)})", error="a package with neither id nor name",
                           title=ckan.title_of(package))
                continue
            if remote_id in seen:
                continue  # a package that moved across a page boundary
            seen.add(remote_id)
            yield self._item(remote_id, package, source, fetch, show)

    def _item(self, remote_id: str, package: dict[str, Any], source: SourceConfig, fetch: Fetch,
              show: str) -> Item:
        note = None
        needs_show = show == "always" or (show == "auto" and ("resources" not in package or "extras" not in package
                                                              or "notes" not in package))
        if needs_show and show != "never":
            url = action_url(source.url, "package_show")
            try:
                value, _ = get_json(fetch, url, {"id": package.get("name") or remote_id})
                full = _result(value, url)
                if isinstance(full, dict):
                    package = full
                else:
                    note = f"{url}?id={remote_id}: not a package"
            except FetchFailed as exc:
                note = str(exc)
            if note and not package.get("title") and not package.get("name"):
                return Item(remote_id=remote_id, error=note)
        content = {k: v for k, v in package.items() if k not in VOLATILE}
        try:
            document = ckan.to_hdruk(package)
        except Exception as exc:  # noqa: BLE001  (one unreadable package fails alone)
            return Item(remote_id=remote_id, content=canonical_bytes(content), title=ckan.title_of(package),
                        error=f"cannot map this package: {type(exc).__name__}: {str(exc)[:200]}")
        return Item(remote_id=remote_id, content=canonical_bytes(content), document=document,
                    title=ckan.title_of(package))


ADAPTER = CkanAdapter()
