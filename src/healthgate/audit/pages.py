"""/admin/audit: alliance admins browse, filter and export the audit log, and verify it. No SQL here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from healthgate.audit import service as audit
from healthgate.audit.actions import ACTIONS, describe
from healthgate.audit.api import MAX_SEQ, csv_response, filters_of
from healthgate.audit.verify import verify_log
from healthgate.errors import FieldError, Invalid, NotFound
from healthgate.identity.permissions import Permission, require
from healthgate.web.deps import ContextDep
from healthgate.web.templates import render

router = APIRouter(prefix="/admin/audit", include_in_schema=False)
Text = Annotated[str, Query(max_length=300)]
PER_PAGE = 50


def _time(raw: str, name: str) -> datetime | None:
    """A time from a form field (``datetime-local`` gives no offset: UTC); empty means no limit."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid("not a time", [FieldError(name, f"“{raw}” is not a date or time (2026-01-31 or "
                                                      "2026-01-31T14:00)")]) from None


def _filters(actor: str, action: str, subject_type: str, subject_id: str, since: str,
             until: str) -> audit.Filters:
    return filters_of(actor.strip(), action.strip(), subject_type.strip(), subject_id.strip(),
                      _time(since, "since"), _time(until, "until"))


@router.get("", response_class=HTMLResponse)
def events(request: Request, ctx: ContextDep, actor: Text = "", action: Text = "", subject_type: Text = "",
           subject_id: Text = "", since: Text = "", until: Text = "",
           before: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None) -> HTMLResponse:
    require(ctx.actor, Permission.AUDIT_VIEW)
    filters = _filters(actor, action, subject_type, subject_id, since, until)
    page = audit.events_page(ctx, filters, before=before, limit=PER_PAGE)
    form = {"actor": actor, "action": action, "subject_type": subject_type, "subject_id": subject_id,
            "since": since, "until": until}
    kept = {k: v for k, v in form.items() if v}
    return render(request, "audit/events.html", page=page, form=form, actions=sorted(ACTIONS), describe=describe,
                  export_url="/admin/audit/export.csv" + (f"?{urlencode(kept)}" if kept else ""),
                  next_url=f"/admin/audit?{urlencode({**kept, 'before': page.next_before})}"
                  if page.next_before else None,
                  first_url=f"/admin/audit?{urlencode(kept)}" if kept else "/admin/audit")


@router.get("/export.csv")
def export(request: Request, ctx: ContextDep, actor: Text = "", action: Text = "", subject_type: Text = "",
           subject_id: Text = "", since: Text = "", until: Text = "") -> StreamingResponse:
    require(ctx.actor, Permission.AUDIT_VIEW)
    return csv_response(request, ctx, _filters(actor, action, subject_type, subject_id, since, until))


@router.get("/verify", response_class=HTMLResponse)
def verify(request: Request, ctx: ContextDep) -> HTMLResponse:
    require(ctx.actor, Permission.AUDIT_VIEW)
    report = verify_log(ctx.session)
    return render(request, "audit/verify.html", report=report, problems=report.problems[:200])


@router.get("/{event_id}", response_class=HTMLResponse)
def event(request: Request, ctx: ContextDep, event_id: Annotated[int, Path(ge=1, le=MAX_SEQ)]) -> HTMLResponse:
    found = audit.get_event(ctx, event_id)
    if found is None:
        raise NotFound(f"no audit event {event_id}")
    return render(request, "audit/event.html", e=found, describe=describe)
