"""``GET /api/v1/data-uses``: the public data use register's faceted search. Parse, call ``register.search``,
shape the answer; bad parameters are refused (422 naming each). The item route is in the register's API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from healthgate.errors import FieldError, Invalid
from healthgate.register import search as register_search
from healthgate.register.public_schemas import DataUseSearchOut, DataUseSearchParams
from healthgate.web import http
from healthgate.web.deps import SessionDep, SettingsDep, get_actor
from healthgate.web.openapi import OPTIONAL_AUTH, problems
from healthgate.web.templates import site_url

router = APIRouter(prefix="/api/v1", tags=["register"], dependencies=[Depends(get_actor)])


@router.get("/data-uses", response_model=DataUseSearchOut, operation_id="searchDataUses",
            openapi_extra=OPTIONAL_AUTH, responses=problems(422))
def search_data_uses(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep,
    params: Annotated[DataUseSearchParams, Query()],
) -> DataUseSearchOut:
    """Published register entries: ranked full-text search with facets (custodian, organisation, sector,
    dataset, access type, legal basis) and an approval date range. Several values of one facet are OR-ed,
    facets are AND-ed, and each facet's counts ignore its own selection. Pages link ``next`` / ``prev``
    (also in the ``Link`` header); every order is total, so pages never overlap."""
    if params.per_page > settings.max_per_page:
        raise Invalid("per_page is too large", [FieldError("query.per_page", f"at most {settings.max_per_page}")])
    values = {name: [v for v in getattr(params, name) if v.strip()] for name in register_search.FACET_PARAMS}
    start, end = params.bounds()
    result = register_search.search(
        session, params.q, values, approved_from=start, approved_to=end, sort=params.sort, page=params.page,
        per_page=params.per_page, max_per_page=settings.max_per_page)
    nxt, prev = http.page_links(request, result.page, result.per_page, result.total)
    http.link_header(response, nxt, prev)
    return DataUseSearchOut.of(result, site_url(request), next=nxt, prev=prev)
