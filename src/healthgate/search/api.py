"""/api/v1/search/datasets and /api/v1/datasets/{id}/similar.

The API refuses bad parameters (422 naming each); ``parse_request`` reads the same parameters leniently for the
HTML search page, where odd values become notes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from healthgate.catalogue import service
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.identity.permissions import ANONYMOUS
from healthgate.search import engine
from healthgate.search.engine import Filters
from healthgate.search.schemas import HitOut, SearchOut, SearchParams, SimilarOut
from healthgate.web import http
from healthgate.web.deps import SessionDep, SettingsDep, get_actor
from healthgate.web.openapi import OPTIONAL_AUTH, problems

router = APIRouter(prefix="/api/v1", tags=["search"], dependencies=[Depends(get_actor)])

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


@router.get("/search/datasets", response_model=SearchOut, operation_id="searchDatasets", openapi_extra=OPTIONAL_AUTH,
            responses=problems(422))
def search_datasets(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep,
    params: Annotated[SearchParams, Query()],
) -> SearchOut:
    """Ranked, faceted dataset search. Facet counts ignore their own facet's selection (multi-select).
    Bad parameters are refused (422 naming each); ``notes`` say how the words were read."""
    if params.per_page > settings.max_per_page:
        raise Invalid("per_page is too large", [FieldError("query.per_page", f"at most {settings.max_per_page}")])
    values = {facet: [v for v in getattr(params, p) if v.strip()] for p, facet in FACET_PARAMS.items()}
    filters = Filters(values={k: v for k, v in values.items() if v}, date_from=params.start(),
                      date_to=params.end())
    result = engine.search(session, params.q, filters, sort=params.sort, page=params.page,
                           per_page=params.per_page, max_per_page=settings.max_per_page)
    nxt, prev = http.page_links(request, result.page, result.per_page, result.total)
    http.link_header(response, nxt, prev)
    return SearchOut.of(result, next=nxt, prev=prev)


@router.get("/datasets/{dataset_id}/similar", response_model=SimilarOut, operation_id="similarDatasets", openapi_extra=OPTIONAL_AUTH,
            responses=problems(404, 410, 422))
def similar_datasets(
    dataset_id: uuid.UUID, session: SessionDep, limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SimilarOut:
    """Public datasets most like this one."""
    service.latest_version(Context(session, ANONYMOUS, SystemClock()), dataset_id)  # 404 unless public, 410 if archived
    return SimilarOut(items=[HitOut.of(h) for h in engine.similar(session, dataset_id, limit)])
