"""Searching the public data use register: the shared search engine over the "data_use" kind, its hits read
back as register entries (title, organisation, custodian, datasets, approval date).

Only published entries are in the index (``register.indexing``), so nothing here can show a draft or a
withdrawn entry. ``parse`` reads the page's query parameters leniently (odd values become notes); the API
validates the same parameters strictly (``register.public_schemas``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthgate.config import DEFAULT_MAX_PER_PAGE
from healthgate.register.indexing import KIND, NAME
from healthgate.search import engine
from healthgate.search.engine import Filters
from healthgate.search.models import SearchEntry

# URL parameter -> facet name (the same names)
FACET_PARAMS: dict[str, str] = {f.name: f.name for f in KIND.facets}
FACET_LABELS: dict[str, str] = {f.name: f.label for f in KIND.facets}
# the register's sorts -> the engine's: "approved" is the entry's approval date, newest first
SORTS: dict[str, str] = {"relevance": "relevance", "approved": "updated", "title": "title"}
SORT_LABELS = {"relevance": "Relevance", "approved": "Most recently approved", "title": "Title (A-Z)"}
_SORT_BACK = {v: k for k, v in SORTS.items()}


@dataclass
class UseHit:
    id: uuid.UUID
    title: str
    snippet: str
    score: float
    custodian: str
    organisation: str
    organisation_ror: str | None
    organisation_slug: str | None
    sector: str | None
    datasets: list[dict[str, Any]]  # {name, id (a catalogue dataset, or None), title}
    access_type: str | None
    legal_basis: str | None
    approval_date: date | None
    project_id: str | None = None


@dataclass
class UseResult:
    total: int
    page: int
    per_page: int
    sort: str
    items: list[UseHit]
    facets: dict[str, list[dict[str, Any]]]
    notes: list[str]
    facets_hidden: dict[str, int] = field(default_factory=dict)


def _iso(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _items(session: Session, hits: list[engine.Hit]) -> list[UseHit]:
    ids = [h.subject_id for h in hits]
    data: dict[str, Any] = dict(session.execute(select(SearchEntry.subject_id, SearchEntry.data).where(
        SearchEntry.kind == NAME, SearchEntry.subject_id.in_(ids))).all()) if ids else {}
    out = []
    for h in hits:
        d = data.get(h.subject_id) or {}
        out.append(UseHit(
            id=uuid.UUID(h.subject_id), title=h.title, snippet=h.snippet, score=h.score,
            custodian=d.get("custodian") or "", organisation=d.get("organisation") or "",
            organisation_ror=d.get("organisation_ror"), organisation_slug=d.get("organisation_slug"),
            sector=d.get("sector"), datasets=list(d.get("datasets") or []), access_type=d.get("access_type"),
            legal_basis=d.get("legal_basis"), approval_date=_iso(d.get("approval_date")),
            project_id=d.get("project_id"),
        ))
    return out


def search(session: Session, q: str = "", values: dict[str, list[str]] | None = None, *,
           approved_from: date | None = None, approved_to: date | None = None, sort: str | None = None,
           page: int = 1, per_page: int = 20, more: tuple[str, ...] = (),
           max_per_page: int = DEFAULT_MAX_PER_PAGE) -> UseResult:
    """Published register entries matching the words and filters: several values of one facet are OR-ed,
    facets AND-ed, each facet's counts ignore its own selection; ``approved_from`` / ``approved_to`` keep
    entries approved within the range (inclusive). Never raises on user input: oddities become notes."""
    notes: list[str] = []
    engine_sort = None
    if sort:
        engine_sort = SORTS.get(sort)
        if engine_sort is None:
            notes.append(f"unknown sort {sort!r}; sorts are {', '.join(SORTS)}")
    if approved_from and approved_to and approved_from > approved_to:
        notes.append("the approval range ends before it starts; no entry can match")
    filters = Filters(values={k: v for k, v in (values or {}).items() if v}, date_from=approved_from,
                      date_to=approved_to, more=more)
    result = engine.search(session, q, filters, sort=engine_sort, page=page, per_page=per_page, kind=NAME,
                           max_per_page=max_per_page)
    return UseResult(
        total=result.total, page=result.page, per_page=result.per_page,
        sort=_SORT_BACK.get(result.sort, result.sort), items=_items(session, result.items),
        facets=result.facets, notes=notes + result.notes, facets_hidden=result.facets_hidden,
    )


# ---- lenient parameters (the HTML page) ----------------------------------------------------------------------


def _int(raw: str | None, default: int, name: str, notes: list[str], hi: int = 10**9) -> int:
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        notes.append(f"{name} {raw[:40]!r} is not a whole number; using {default}")
        return default
    if value < 1 or value > hi:
        notes.append(f"{name} must be between 1 and {hi}")
        return min(max(value, 1), hi)
    return value


def approval_bound(raw: str | None, *, end: bool) -> date | None:
    """A range bound: a year (YYYY), a month (YYYY-MM) or a date (YYYY-MM-DD); ``end``: the last day of it.
    Raises ValueError for anything else."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if len(text) == 4 and text.isdigit():
        return date(int(text), 12, 31) if end else date(int(text), 1, 1)
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
        year, month = int(text[:4]), int(text[5:])
        if not 1 <= month <= 12:
            raise ValueError("no such month")
        if not end:
            return date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return date.fromordinal(nxt.toordinal() - 1)
    return date.fromisoformat(text)


def parse(params: Any) -> tuple[dict[str, Any], list[str]]:
    """``search`` arguments from query parameters, leniently: odd values become notes, never errors."""
    notes: list[str] = []
    bounds: dict[str, date | None] = {}
    for key, end in (("approved_from", False), ("approved_to", True)):
        name = key if params.get(key) else key.replace("approved", "date")  # date_from / date_to: aliases
        raw = params.get(name)
        try:
            bounds[key] = approval_bound(raw, end=end)
        except ValueError:
            notes.append(f"{name} {raw[:40]!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD); ignored")
            bounds[key] = None
    values = {facet: [v for v in params.getlist(p) if v.strip()][:50] for p, facet in FACET_PARAMS.items()}
    args = {
        "q": params.get("q", "") or "",
        "values": {k: v for k, v in values.items() if v},
        "sort": params.get("sort") or None,
        "page": _int(params.get("page"), 1, "page", notes),
        "per_page": _int(params.get("per_page"), 20, "per_page", notes, hi=10**6),
        "more": tuple(v for v in params.getlist("more") if v in FACET_PARAMS),
        **bounds,
    }
    return args, notes
