"""The HDR UK Federated Metadata Catalogue API's forms (``shared/data/federation``): one item of the
``/datasets`` list (``gmi.schema.json``), the list with its ``query`` block, and the full HDR UK document a
``/datasets/{id}`` answers. Pure: the caller passes the dataset's facts and the absolute URLs.

``@schema``: the GMI schema allows ``"2.0.2"``, ``"latest"`` or the URL of an HDR UK schema up to 2.2.0; the
documents served are HDR UK 4.0.0, the latest version of the standard, so items say ``"latest"``. (The official
schema's rule is self-contradictory: its pattern ``^d.d.d$`` refuses the ``"latest"`` its own enum lists; the
tests validate with that one rule repaired, see docs/federation-formats.md.)
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

SCHEMA = "latest"
TYPE = "dataset"
NAME_MAX = 80  # gmi.schema.json: name
DESCRIPTION_MAX = 255  # gmi.schema.json: description
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_SPACE = re.compile(r"\s+")


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters: cut at a word with an ellipsis when longer."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"


def timestamp(at: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` (what gmi.schema.json's date-time and Atom's updated want)."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%SZ")


def version_of(document: dict[str, Any], number: int) -> str:
    """The dataset's metadata version: the document's when it is semantic, else the published version's
    number (``N.0.0``)."""
    v = document.get("version")
    return v if isinstance(v, str) and _SEMVER.match(v) else f"{number}.0.0"


def issued_of(document: dict[str, Any], fallback: datetime) -> str:
    raw = document.get("issued")
    if isinstance(raw, str):
        try:
            return timestamp(datetime.fromisoformat(raw))
        except ValueError:
            pass
    return timestamp(fallback)


def item(*, dataset_id: uuid.UUID, document: dict[str, Any], number: int, title: str, abstract: str | None,
         custodian: str, created: datetime, modified: datetime, self_url: str) -> dict[str, Any]:
    """One ``/datasets`` list item (gmi.schema.json ``#/definitions/dataset``)."""
    name = shorten(title, NAME_MAX) or str(dataset_id)
    return {
        "@schema": SCHEMA,
        "type": TYPE,
        "persistentId": str(dataset_id),
        "name": name,
        "description": shorten(abstract or title, DESCRIPTION_MAX) or name,
        "version": version_of(document, number),
        "self": self_url,
        "issued": issued_of(document, created),
        "modified": timestamp(modified),
        "source": custodian,
    }


def listing(items: list[dict[str, Any]], *, q: str, total: int, limit: int, offset: int) -> dict[str, Any]:
    """The ``/datasets`` answer: ``query`` (what was asked, and the total) and ``items``."""
    return {"query": {"q": q, "total": total, "limit": limit, "offset": offset}, "items": items}


def document(document: dict[str, Any], dataset_id: uuid.UUID) -> dict[str, Any]:
    """The HDR UK document a ``/datasets/{id}`` answers: as published, with ``identifier`` naming the dataset
    (kept when it already does, as a URL ending in the id may)."""
    ident = document.get("identifier")
    if isinstance(ident, str) and ident.strip().rstrip("/").rsplit("/", 1)[-1].lower() == str(dataset_id):
        return document
    return {**document, "identifier": str(dataset_id)}


def tombstone(dataset_id: uuid.UUID, *, title: str, archived_at: datetime) -> dict[str, Any]:
    """An export's entry for a dataset its custodian archived in the window: it is gone from the catalogue."""
    return {"identifier": str(dataset_id), "status": "archived", "modified": timestamp(archived_at),
            "summary": {"title": title}}
