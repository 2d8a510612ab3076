"""The public catalogue's pages: home with a search box, and the search results page."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from healthgate.search import engine
from healthgate.search.api import FACET_PARAMS, parse_request
from healthgate.web.deps import SessionDep
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)

FACET_LABELS = {
    "custodian": "Data custodian", "member_group": "Member group", "data_type": "Data type",
    "geography": "Geographic coverage", "keyword": "Keyword", "access_service": "Access service",
    "lead_time": "Access request lead time", "medallion": "Metadata quality", "population": "Population size",
}
SORT_LABELS = {"relevance": "Relevance", "title": "Title (A-Z)", "updated": "Recently updated",
               "quality": "Metadata quality"}


def _url(pairs: list[tuple[str, str]]) -> str:
    return "/search" + ("?" + urlencode(pairs) if pairs else "")


def _links(request: Request) -> dict[str, Any]:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if v != ""]

    def without(key: str, value: str | None = None) -> str:
        return _url([(k, v) for k, v in pairs if not (k == key and (value is None or v == value)) and k != "page"])

    def with_page(n: int) -> str:
        return _url([(k, v) for k, v in pairs if k != "page"] + [("page", str(n))])

    def more(name: str, show: bool) -> str:
        """Every value of a facet (or back to the commonest), returning to that facet."""
        kept = [(k, v) for k, v in pairs if not (k == "more" and v == name)]
        return _url(kept + ([("more", name)] if show else [])) + f"#facet-{name}"

    return {"without": without, "with_page": with_page, "more": more}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    result = engine.search(session, "", sort="updated", per_page=6)
    custodians = result.facets.get("custodian", [])
    return render(request, "home.html", result=result, custodians=custodians,
                  groups=result.facets.get("member_group", []))


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, session: SessionDep) -> Response:
    pairs = request.query_params.multi_items()
    if any(v == "" for _, v in pairs):  # a form's empty fields (date_from=&date_to=) make no URL of ours
        return RedirectResponse(_url([(k, v) for k, v in pairs if v != ""]), status_code=303)
    args, notes = parse_request(request.query_params)
    args["filters"].more = tuple(v for v in request.query_params.getlist("more") if v in FACET_LABELS)
    result = engine.search(session, **args, max_per_page=request.app.state.settings.max_per_page)
    chips = [(FACET_LABELS[f], v, p) for p, f in FACET_PARAMS.items() for v in args["filters"].values.get(f, [])]
    for key, label in (("date_from", "Covers from"), ("date_to", "Covers to")):
        if request.query_params.get(key):
            chips.append((label, request.query_params[key], key))
    last = max(1, math.ceil(result.total / result.per_page))
    return render(
        request, "search.html", result=result, notes=notes + result.notes, q=args["q"], chips=chips,
        facet_labels=FACET_LABELS, facet_params={f: p for p, f in FACET_PARAMS.items()},
        sort_labels=SORT_LABELS, last_page=last, params=request.query_params, **_links(request),
    )
