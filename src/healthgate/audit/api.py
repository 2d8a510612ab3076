"""/api/v1/audit: browse, filter and verify the audit log (``audit:view``, alliance admins). No SQL.
The CSV export is ``/admin/audit/export.csv`` (a page route: it takes the same bearer token)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from healthgate.audit import service as audit
from healthgate.audit.actions import ACTIONS
from healthgate.audit.schemas import ActionOut, AuditEventOut, AuditPage, AuditProblem, VerifyOut
from healthgate.audit.verify import verify_log
from healthgate.context import Context
from healthgate.db import transaction
from healthgate.errors import FieldError, Invalid, NotFound
from healthgate.identity.permissions import Actor, Permission, require
from healthgate.interop import audit_csv
from healthgate.web import http
from healthgate.web.deps import ContextDep, SettingsDep, get_actor
from healthgate.web.openapi import problems

router = APIRouter(prefix="/api/v1", tags=["audit"], dependencies=[Depends(get_actor)])
MAX_SEQ = 2**63 - 1
_NUMBER = re.compile(r"^\s*[-+]?\d+(\.\d*)?\s*$")


def _not_a_number(value: object) -> object:
    """A time is ISO 8601 text: pydantic would read a bare number as seconds since 1970."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("give an ISO 8601 date or time, e.g. 2026-01-31T14:00:00Z")
    return value


Time = Annotated[datetime, BeforeValidator(_not_a_number)]


class FilterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = Field(None, max_length=300, description="a person's id, or text in the actor's name")
    action: str | None = Field(None, max_length=100, description="an action, or every action of a noun: 'dataset.'")
    subject_type: str | None = Field(None, max_length=50)
    subject_id: str | None = Field(None, max_length=100)
    since: Time | None = Field(None, description="from this time (UTC if no offset)")
    until: Time | None = Field(None, description="before this time (UTC if no offset)")

    def filters(self) -> audit.Filters:
        return filters_of(self.actor, self.action, self.subject_type, self.subject_id, self.since, self.until)


class PageQuery(FilterQuery):
    before: int | None = Field(None, ge=1, le=MAX_SEQ, description="the page below this seq (from a next link)")
    per_page: int = Field(50, ge=1, le=1000)


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def filters_of(actor: str | None, action: str | None, subject_type: str | None, subject_id: str | None,
               since: datetime | None, until: datetime | None) -> audit.Filters:
    return audit.Filters(actor=actor or None, action=action or None, subject_type=subject_type or None,
                         subject_id=subject_id or None, since=_utc(since), until=_utc(until))


def csv_stream(request: Request, actor: Actor, filters: audit.Filters) -> Iterator[str]:
    """The CSV, streamed from a transaction of its own (the request's has ended when the body is sent)."""
    with transaction(request.app.state.sessions) as session:
        yield from audit_csv.lines(audit.iter_events(Context(session, actor, request.app.state.clock), filters))


def csv_response(request: Request, ctx: Context, filters: audit.Filters) -> StreamingResponse:
    require(ctx.actor, Permission.AUDIT_VIEW)  # before the stream starts, so a refusal is a 401/403
    stamp = ctx.now().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(csv_stream(request, ctx.actor, filters), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})


@router.get("/audit", response_model=AuditPage, operation_id="listAuditEvents",
            responses=problems(401, 403, 422))
def list_events(request: Request, response: Response, ctx: ContextDep, settings: SettingsDep,
                query: Annotated[PageQuery, Query()]) -> AuditPage:
    """Audit events matching the filters, newest first; ``next`` (and ``Link``) pages on. Needs ``audit:view``."""
    require(ctx.actor, Permission.AUDIT_VIEW)  # before the filters are judged: strangers learn nothing
    if query.per_page > settings.max_per_page:
        raise Invalid("per_page is too large", [FieldError("query.per_page", f"at most {settings.max_per_page}")])
    page = audit.events_page(ctx, query.filters(), before=query.before, limit=query.per_page)
    nxt = None
    if page.next_before is not None:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "before"]
        nxt = http.absolute(request, request.url.path, [*kept, ("before", str(page.next_before))])
    http.link_header(response, nxt, None)
    return AuditPage(total=page.total, items=[AuditEventOut.of(e) for e in page.items], next=nxt, prev=None)


@router.get("/audit/verify", response_model=VerifyOut, operation_id="verifyAuditLog",
            responses=problems(401, 403))
def verify(ctx: ContextDep) -> VerifyOut:
    """Check the whole log against its keyed chain and head, naming each broken entry. Needs ``audit:view``."""
    require(ctx.actor, Permission.AUDIT_VIEW)
    report = verify_log(ctx.session)
    return VerifyOut(ok=report.ok, checked=report.checked, head_seq=report.head_seq, checkpoint=report.checkpoint,
                     problems=[AuditProblem(message=p.message, seq=p.seq, event_id=p.event_id)
                               for p in report.problems[:1000]])


@router.get("/audit/actions", response_model=list[ActionOut], operation_id="listAuditActions",
            responses=problems(401, 403))
def list_actions(ctx: ContextDep) -> list[ActionOut]:
    """Every action the log may record. Needs ``audit:view``."""
    require(ctx.actor, Permission.AUDIT_VIEW)
    return [ActionOut(action=a, description=d) for a, d in sorted(ACTIONS.items())]


@router.get("/audit/{event_id}", response_model=AuditEventOut, operation_id="getAuditEvent",
            responses=problems(401, 403, 404, 422))
def get_event(event_id: Annotated[int, Path(ge=1, le=MAX_SEQ)], ctx: ContextDep) -> AuditEventOut:
    """One audit event by id. Needs ``audit:view``."""
    event = audit.get_event(ctx, event_id)
    if event is None:
        raise NotFound(f"no audit event {event_id}")
    return AuditEventOut.of(event)
