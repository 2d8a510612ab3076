"""The public page of new access requests received, by custodian and quarter (``/access-requests/received``).
Its table is the partial ``register/_requests_received.html`` (give it ``counts``, a ``RequestCounts``), which
other public pages (the alliance's statistics) may include."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from healthgate.errors import FieldError, Invalid
from healthgate.identity import service as identity
from healthgate.register import activity
from healthgate.web.deps import ContextDep
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)


def _date(raw: str, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{name} must be a date", [FieldError(name, "YYYY-MM-DD")]) from None


@router.get("/access-requests/received", response_class=HTMLResponse)
def requests_received_page(request: Request, ctx: ContextDep, custodian: str = "", start: str = "",
                           end: str = "") -> HTMLResponse:
    """New data access requests each custodian received, by quarter (counts only)."""
    team = identity.resolve_team(ctx, custodian) if custodian else None
    counts = activity.requests_by_quarter(ctx.session, team_id=team.id if team else None,
                                          start=_date(start, "start"), end=_date(end, "end"))
    response = render(request, "register/requests_received.html", counts=counts, team=team)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
