"""The HDR UK Federated Metadata Catalogue API (FMA) format, read side: a custodian's own catalogue serves
``GET /datasets?q&limit&offset`` (a page of GMI items: ``{"query": {"q", "total", "limit", "offset"},
"items": [...]}``, each item described by ``shared/data/federation/gmi.schema.json``) and
``GET /datasets/{id}`` (the full HDR UK metadata document of one dataset).

Pure functions, no I/O: ``parse_page`` reads one list page, tolerating what real sources send instead of
the documented wrapper; ``summary`` reads one GMI item; ``detail`` reads a detail response. The mapping,
field by field, is in docs/federation-harvest.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# Where a list page's items may be when the source does not use the documented ``items`` wrapper.
ITEM_KEYS = ("items", "data", "results", "datasets")
# Where a GMI item's id may be: the schema's ``persistentId``, the OpenAPI example's ``identifier``, or ``id``.
ID_KEYS = ("persistentId", "identifier", "id", "pid", "@id")


class FormatError(ValueError):
    """The response is not what the FMA format allows, even read leniently; the message says why."""


@dataclass
class Page:
    items: list[Any]
    total: int | None = None  # query.total when the source gave one
    wrapped: bool = True  # False: a bare list, or items under another key
    notes: list[str] = field(default_factory=list)  # deviations noticed (for the report)


def _loads(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        snippet = body[:60].decode("utf-8", "replace").replace("\n", " ")
        raise FormatError(f"{what} is not JSON ({exc}); it starts {snippet!r}") from None


def _int(value: Any) -> int | None:
    """``query.total`` is an integer in the GMI schema and a string in the OpenAPI document: read both."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_page(body: bytes) -> Page:
    """One ``/datasets`` page. The documented form is an object with ``items``; also read: a bare JSON
    list, and an object whose items are under ``data``, ``results`` or ``datasets``."""
    payload = _loads(body, "the list page")
    if isinstance(payload, list):
        return Page(payload, None, wrapped=False, notes=["the list has no {query, items} wrapper"])
    if not isinstance(payload, dict):
        raise FormatError(f"the list page is a JSON {type(payload).__name__}, not an object with items")
    query = payload.get("query") if isinstance(payload.get("query"), dict) else {}
    total = _int(query.get("total")) if query else None
    if total is None:
        total = _int(payload.get("total")) or _int(payload.get("count"))
    for key in ITEM_KEYS:
        value = payload.get(key)
        if isinstance(value, list):
            notes = [] if key == "items" else [f"the list's items are under {key!r}, not 'items'"]
            return Page(value, total, wrapped=key == "items", notes=notes)
    raise FormatError("the list page has no items (expected an 'items' array)")


@dataclass(frozen=True)
class Summary:
    """One GMI item of the list, as far as the harvest needs it."""

    remote_id: str
    name: str | None
    version: str | None
    modified: str | None
    self_url: str | None


def summary(item: Any) -> Summary:
    """The GMI item's id (``persistentId``, else ``identifier``, ``id``), title (``name``), ``version``,
    ``modified`` and ``self``. Raises FormatError when it has no usable id."""
    if not isinstance(item, dict):
        raise FormatError(f"a list item is a JSON {type(item).__name__}, not an object")
    remote_id = None
    for key in ID_KEYS:
        value = item.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            remote_id = value.strip()
            break
    name = item.get("name") if isinstance(item.get("name"), str) else item.get("title")
    if remote_id is None:
        label = f" ({name!r})" if isinstance(name, str) else ""
        raise FormatError(f"a list item{label} has no persistentId, identifier or id")
    if len(remote_id) > 500:
        raise FormatError("a list item's id is longer than 500 characters")

    def text(key: str) -> str | None:
        value = item.get(key)
        return value if isinstance(value, str) else None

    return Summary(remote_id, name if isinstance(name, str) else None, text("version"), text("modified"),
                   text("self"))


def detail(body: bytes) -> dict[str, Any]:
    """A ``/datasets/{id}`` response: the HDR UK metadata document (bare, or the ``{"schemaVersion",
    "metadata"}`` envelope; the catalogue detects the version). Also read: the document wrapped as
    ``{"data": {...}}`` or ``{"dataset": {...}}`` by sources that wrap every answer."""
    payload = _loads(body, "the dataset document")
    if not isinstance(payload, dict):
        raise FormatError(f"the dataset document is a JSON {type(payload).__name__}, not an object")
    if len(payload) == 1:
        (key, inner), = payload.items()
        if key in ("data", "dataset") and isinstance(inner, dict):
            return inner
    return payload
