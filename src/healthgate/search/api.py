"""/api/v1/search/datasets and /api/v1/datasets/{id}/similar."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from healthgate.catalogue import service
from healthgate.identity.permissions import ANONYMOUS
from healthgate.search import engine
from healthgate.search.engine import Filters, Hit, Result
from healthgate.web.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["search"])

# URL parameter -> facet name
FACET_PARAMS = {
    "custodian": "custodian", "member_group": "member_group", "data_type": "data_type",
    "geography": "geography", "keyword": "keyword", "access_service": "access_service",
    "lead_time": "lead_time", "medallion": "medallion", "population": "population",
}


def _int(raw: str | None, default: int, name: str, notes: list[str], lo: int = 1, hi: int = 10**9) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        notes.append(f"{name} {raw[:40]!r} is not a whole number; using {default}")
        return default
    if value < lo or value > hi:
        notes.append(f"{name} must be between {lo} and {hi}")
        return min(max(value, lo), hi)
    return value


def _date(raw: str | None, name: str, notes: list[str], end: bool) -> date | None:
    if not raw:
        return None
    raw = raw.strip()
    try:
        if len(raw) == 4 and raw.isdigit():
            return date(int(raw), 12, 31) if end else date(int(raw), 1, 1)
        return date.fromisoformat(raw[:10])
    except ValueError:
        notes.append(f"{name} {raw[:40]!r} is not a date (YYYY or YYYY-MM-DD); ignored")
        return None


def parse_request(params: Any) -> tuple[dict[str, Any], list[str]]:
    """Search arguments from query parameters, leniently: odd values become notes, never errors."""
    notes: list[str] = []
    values = {facet: [v for v in params.getlist(p) if v.strip()][:50] for p, facet in FACET_PARAMS.items()}
    filters = Filters(
        values={k: v for k, v in values.items() if v},
        date_from=_date(params.get("date_from"), "date_from", notes, end=False),
        date_to=_date(params.get("date_to"), "date_to", notes, end=True),
    )
    args = {
        "q": params.get("q", "") or "",
        "filters": filters,
        "sort": params.get("sort") or None,
        "page": _int(params.get("page"), 1, "page", notes),
        "per_page": _int(params.get("per_page"), 20, "per_page", notes, hi=10**6),
    }
    return args, notes


def hit_json(h: Hit) -> dict[str, Any]:
    return {
        "id": str(h.dataset_id), "title": h.title, "custodian": h.custodian, "member_group": h.member_group,
        "snippet": h.snippet, "score": h.score, "abstract": h.abstract, "keywords": h.keywords,
        "medallion": h.medallion, "quality_score": h.quality_score, "population_size": h.population_size,
        "start_date": h.start_date.isoformat() if h.start_date else None,
        "end_date": h.end_date.isoformat() if h.end_date else None,
        "updated_at": h.updated_at.isoformat() if h.updated_at else None,
    }


def result_json(r: Result, notes: list[str]) -> dict[str, Any]:
    return {
        "total": r.total, "page": r.page, "per_page": r.per_page, "sort": r.sort,
        "items": [hit_json(h) for h in r.items], "facets": r.facets, "notes": notes + r.notes,
    }


@router.get("/search/datasets")
def search_datasets(
    request: Request, session: SessionDep,
    q: Annotated[str | None, Query(description='words, "phrases", -exclusions, OR')] = None,
    custodian: Annotated[list[str] | None, Query()] = None,
    member_group: Annotated[list[str] | None, Query()] = None,
    data_type: Annotated[list[str] | None, Query()] = None,
    geography: Annotated[list[str] | None, Query()] = None,
    keyword: Annotated[list[str] | None, Query()] = None,
    access_service: Annotated[list[str] | None, Query()] = None,
    lead_time: Annotated[list[str] | None, Query()] = None,
    medallion: Annotated[list[str] | None, Query()] = None,
    population: Annotated[list[str] | None, Query(description="a bucket such as 1,000-9,999 or unreported")]
    = None,
    date_from: Annotated[str | None, Query(description="coverage overlaps from this date (YYYY or YYYY-MM-DD)")]
    = None,
    date_to: Annotated[str | None, Query()] = None,
    sort: Annotated[str | None, Query(description="relevance, title, updated or quality")] = None,
    page: Annotated[str | None, Query()] = None,
    per_page: Annotated[str | None, Query(description="at most 100")] = None,
) -> dict[str, Any]:
    """Ranked, faceted dataset search. Facet counts ignore their own facet's selection (multi-select)."""
    args, notes = parse_request(request.query_params)
    return result_json(engine.search(session, **args), notes)


@router.get("/datasets/{dataset_id}/similar")
def similar_datasets(dataset_id: uuid.UUID, session: SessionDep, limit: int = 10) -> dict[str, Any]:
    """Public datasets most like this one."""
    service.latest_version(session, ANONYMOUS, dataset_id)  # 404 unless public
    return {"items": [hit_json(h) for h in engine.similar(session, dataset_id, max(1, min(limit, 50)))]}
