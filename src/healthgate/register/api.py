"""JSON API for a custodian's data use register: ``/api/v1/teams/{team}/data-uses`` (list, create) and
``/api/v1/data-uses/{id}`` (read: public once published; replace, publish, withdraw: the custodian team's
register managers). Parse, call ``register.service``, shape the answer; no SQL, no permission checks.

An entry's ``ETag`` is its ``row_version``. A write accepts ``If-Match`` (412 when it names another version) or
``row_version`` (in the body of a PUT, as a query parameter of publish and withdraw; 409 when stale)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, PreconditionFailed
from healthgate.identity import service as identity
from healthgate.register import activity
from healthgate.register import service as register
from healthgate.register.schemas import (
    EntryIn,
    EntryOut,
    EntryPage,
    EntrySummary,
    ListQuery,
    QuarterCounts,
    RequestsQuery,
    TeamOut,
)
from healthgate.web import http
from healthgate.web.deps import ContextDep, SettingsDep, WriterContextDep, get_actor
from healthgate.web.openapi import DESCRIPTIONS, OPTIONAL_AUTH, problems

router = APIRouter(prefix="/api/v1", tags=["register"], dependencies=[Depends(get_actor)])
EntryId = Annotated[uuid.UUID, Path(description="the register entry's id")]
TeamRefP = Annotated[str, Path(min_length=1, max_length=300, description="the custodian team's id or slug")]
IfMatch = Annotated[str | None, Header(description="the ETag you read; 412 if the entry changed since")]
IfNoneMatch = Annotated[str | None, Header(description="an ETag you hold; 304 if it is still current")]
RowVersionQ = Annotated[int | None, Query(ge=1, le=2**31 - 1,
                                          description="the row_version you read (409 if the entry moved on)")]
_ETAG = {"ETag": {"description": "the entry's row_version, for If-Match and If-None-Match",
                  "schema": {"type": "string"}}}
_ID = "$response.body#/id"
_LINKS = {
    "GetRegisterEntry": {"operationId": "getRegisterEntry", "parameters": {"entry_id": _ID}},
    "UpdateRegisterEntry": {"operationId": "updateRegisterEntry", "parameters": {"entry_id": _ID}},
    "PublishRegisterEntry": {"operationId": "publishRegisterEntry", "parameters": {"entry_id": _ID}},
    "WithdrawRegisterEntry": {"operationId": "withdrawRegisterEntry", "parameters": {"entry_id": _ID}},
}


def etag(row_version: int) -> str:
    return f'"r{row_version}"'


def _named_version(if_match: str | None) -> int | None:
    found = re.fullmatch(r'\s*"r(\d{1,10})"\s*', if_match or "")
    return int(found.group(1)) if found else None


def _team(team: Any) -> TeamOut:
    return TeamOut(id=team.id, slug=team.slug, name=team.name)


def _shown(v: register.EntryView, response: Response) -> EntryOut:
    response.headers["ETag"] = etag(v.entry.row_version)
    response.headers["Cache-Control"] = "private, no-cache" if v.manager or v.entry.status != "published" \
        else "public, no-cache"
    response.headers["Vary"] = "Authorization, Cookie"
    return EntryOut.of(v.entry, v.data, _team(v.team), manager=v.manager)


def _write(ctx: Context, entry_id: uuid.UUID, if_match: str | None, row_version: int | None,
           op: Any) -> register.RegisterEntry:
    """Run a write under optimistic concurrency: ``row_version`` stale -> 409; ``If-Match`` stale -> 412."""
    named = _named_version(if_match)
    if if_match is not None and named is None:  # "*" or a list of tags: compared as HTTP says
        http.check_if_match(if_match, etag(register.get(ctx, entry_id).row_version))
    if named is not None and row_version is not None and named != row_version:
        raise Invalid("If-Match and row_version disagree",
                      [FieldError("header.if-match", f"names version {named}, row_version says {row_version}")])
    try:
        return op(row_version if row_version is not None else named)
    except Conflict as stale:
        if row_version is None and named is not None and [e.path for e in stale.errors] == ["row_version"]:
            raise PreconditionFailed("the entry changed since you read it; read it again and retry",
                                     [FieldError("header.if-match", f"{(if_match or '')[:100]} is not current")]
                                     ) from None
        raise


@router.get("/teams/{team}/data-uses", response_model=EntryPage, operation_id="listTeamRegisterEntries",
            responses=problems(401, 403, 404, 422))
def list_team_entries(ctx: WriterContextDep, team: TeamRefP, request: Request, response: Response,
                      settings: SettingsDep, query: Annotated[ListQuery, Query()]) -> EntryPage:
    """The custodian team's register: every entry (drafts, published, withdrawn), newest approval first. Drafts
    waiting from approved applications have ``origin`` "application" and ``status`` "draft"."""
    row = identity.resolve_team(ctx, team)
    found = register.team_entries(ctx, row.id, status=query.status, origin=query.origin)
    if query.per_page > settings.max_per_page:
        raise Invalid("per_page is too large", [FieldError("query.per_page", f"at most {settings.max_per_page}")])
    nxt, prev = http.page_links(request, query.page, query.per_page, len(found))
    http.link_header(response, nxt, prev)
    start = (query.page - 1) * query.per_page
    items = [EntrySummary(id=e.id, status=e.status, origin=e.origin,  # type: ignore[arg-type]
                          project_id=e.project_id, project_title=e.project_title,
                          organisation_name=e.organisation_name, approval_date=e.approval_date,
                          updated_at=e.updated_at, row_version=e.row_version, application_id=e.application_id,
                          complete=register.is_complete(e))
             for e in found[start:start + query.per_page]]
    return EntryPage(items=items, total=len(found), page=query.page, per_page=query.per_page, next=nxt, prev=prev)


@router.post("/teams/{team}/data-uses", status_code=201, response_model=EntryOut, operation_id="createRegisterEntry",
             responses={**problems(401, 403, 404, 409, 422, body=True),
                        201: {"description": "Created: a draft entry", "links": _LINKS,
                              "headers": {**_ETAG, "Location": {"schema": {"type": "string"}}}}})
def create_entry(ctx: WriterContextDep, team: TeamRefP, body: EntryIn, request: Request,
                 response: Response) -> EntryOut:
    """A new draft entry in the team's register (409 if its ``project_id`` is already used there). It is not
    public until published."""
    row = identity.resolve_team(ctx, team)
    entry = register.create(ctx, row.id, body.data())
    response.headers["Location"] = http.absolute(request, f"/api/v1/data-uses/{entry.id}")
    return _shown(register.view_of(ctx, entry), response)


@router.get("/data-uses/{entry_id}", response_model=EntryOut, operation_id="getRegisterEntry", openapi_extra=OPTIONAL_AUTH,
            responses={**problems(404, 422), 304: {"description": DESCRIPTIONS[304]},
                       200: {"description": "The entry", "headers": _ETAG, "links": _LINKS}})
def get_entry(ctx: ContextDep, entry_id: EntryId, response: Response, if_none_match: IfNoneMatch = None) -> Any:
    """A published entry, for anyone. Its custodian team also reads its drafts and withdrawn entries; anyone
    else gets 404 for those."""
    v = register.view(ctx, entry_id)
    if http.not_modified(if_none_match, etag(v.entry.row_version)):
        return Response(status_code=304, headers={"ETag": etag(v.entry.row_version), "Cache-Control": "no-cache"})
    return _shown(v, response)


@router.put("/data-uses/{entry_id}", response_model=EntryOut, operation_id="updateRegisterEntry",
            responses={**problems(401, 403, 404, 409, 412, 422, body=True),
                       200: {"description": "The entry after the change", "headers": _ETAG, "links": _LINKS}})
def update_entry(ctx: WriterContextDep, entry_id: EntryId, body: EntryIn, response: Response,
                 if_match: IfMatch = None) -> EntryOut:
    """Replace every field of an entry. A published entry stays published (the public sees the change at
    once); a draft stays a draft."""
    entry = _write(ctx, entry_id, if_match, body.row_version,
                   lambda expected: register.update(ctx, entry_id, body.data(), expected_version=expected))
    return _shown(register.view_of(ctx, entry), response)


@router.post("/data-uses/{entry_id}/publish", response_model=EntryOut, operation_id="publishRegisterEntry",
             responses={**problems(401, 403, 404, 409, 412, 422),
                        200: {"description": "The entry, now public", "headers": _ETAG, "links": _LINKS}})
def publish_entry(ctx: WriterContextDep, entry_id: EntryId, response: Response, if_match: IfMatch = None,
                  row_version: RowVersionQ = None) -> EntryOut:
    """Publish a draft (or a withdrawn entry again): it appears on the public register. 422 naming every
    required field still empty; 409 if it is already published."""
    entry = _write(ctx, entry_id, if_match, row_version,
                   lambda expected: register.publish(ctx, entry_id, expected_version=expected))
    return _shown(register.view_of(ctx, entry), response)


@router.post("/data-uses/{entry_id}/withdraw", response_model=EntryOut, operation_id="withdrawRegisterEntry",
             responses={**problems(401, 403, 404, 409, 412, 422),
                        200: {"description": "The entry, off the public register", "headers": _ETAG,
                              "links": _LINKS}})
def withdraw_entry(ctx: WriterContextDep, entry_id: EntryId, response: Response, if_match: IfMatch = None,
                   row_version: RowVersionQ = None) -> EntryOut:
    """Take an entry off the public register (kept for the team; it can be published again)."""
    entry = _write(ctx, entry_id, if_match, row_version,
                   lambda expected: register.withdraw(ctx, entry_id, expected_version=expected))
    return _shown(register.view_of(ctx, entry), response)


@router.get("/access-requests/received", response_model=QuarterCounts, operation_id="accessRequestsReceived",
            openapi_extra=OPTIONAL_AUTH, responses=problems(404, 422))
def requests_received(ctx: ContextDep, response: Response, query: Annotated[RequestsQuery, Query()]
                      ) -> QuarterCounts:
    """New data access requests received, in aggregate: the number of applications submitted to each custodian
    (each custodian's part counts once, at its first submission), by calendar quarter. Public, as members
    promised; no application is identifiable from it."""
    team_id = identity.resolve_team(ctx, query.custodian).id if query.custodian else None
    counts = activity.requests_by_quarter(ctx.session, team_id=team_id, start=query.start, end=query.end)
    response.headers["Cache-Control"] = "public, max-age=300"
    return QuarterCounts.of(counts)
