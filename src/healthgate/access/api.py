"""JSON API for access requests: /api/v1/applications, /api/v1/enquiries and the custodian's queues (parse, call
the service, shape the answer; no SQL, no permission checks: the services decide).

An application's ``ETag`` is its version (the number of events in its log). A command accepts ``If-Match``
(412 when it names another version, as the catalogue does) or ``version`` in its body (409 when stale); a
command the application's state or the caller's role does not allow is 409 with the allowed commands in the
problem's ``errors``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response

from healthgate.access import enquiries, messages
from healthgate.access import lifecycle as lc
from healthgate.access import service as access
from healthgate.access.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationPage,
    ApplicationSummary,
    CommandIn,
    EnquiryApplicationIn,
    EnquiryIn,
    EnquiryOut,
    EnquiryPage,
    EventOut,
    MessageIn,
    MessageOut,
    PageQuery,
    QueueItem,
    QueuePage,
    QueueQuery,
)
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, PreconditionFailed
from healthgate.identity import service as identity
from healthgate.web import http
from healthgate.web.deps import SettingsDep, WriterContextDep, get_actor
from healthgate.web.openapi import DESCRIPTIONS, problems

router = APIRouter(prefix="/api/v1", tags=["access"], dependencies=[Depends(get_actor)])
AppId = Annotated[uuid.UUID, Path(description="the application's id")]
EnquiryId = Annotated[uuid.UUID, Path(description="the enquiry's id")]
TeamRefP = Annotated[str, Path(min_length=1, max_length=300, description="the custodian team's id or slug")]
IfMatch = Annotated[str | None, Header(description="the ETag you read; 412 if the application changed since")]
IfNoneMatch = Annotated[str | None, Header(description="an ETag you hold; 304 if it is still current")]
Paging = Annotated[PageQuery, Query()]  # unknown query parameters are refused (422)
_ETAG = {"ETag": {"description": "the application's version, for If-Match and If-None-Match",
                  "schema": {"type": "string"}}}
_ID = "$response.body#/id"
_LINKS = {
    "GetApplication": {"operationId": "getApplication", "parameters": {"application_id": _ID}},
    "ListApplicationEvents": {"operationId": "listApplicationEvents", "parameters": {"application_id": _ID}},
    "ListApplicationMessages": {"operationId": "listApplicationMessages", "parameters": {"application_id": _ID}},
}
_ENQUIRY_LINKS = {
    "GetEnquiry": {"operationId": "getEnquiry", "parameters": {"enquiry_id": _ID}},
    "ListEnquiryMessages": {"operationId": "listEnquiryMessages", "parameters": {"enquiry_id": _ID}},
}
T = TypeVar("T")


def etag(version: int) -> str:
    return f'"v{version}"'


def _version_of(if_match: str) -> int | None:
    """The version an If-Match names (None for ``*``)."""
    found = re.fullmatch(r'\s*"v(\d{1,10})"\s*', if_match)
    return int(found.group(1)) if found else None


def _page(items: Sequence[T], request: Request, response: Response, settings: Settings,
          paging: PageQuery) -> tuple[list[T], dict[str, Any]]:
    page, per_page = paging.page, paging.per_page
    if per_page > settings.max_per_page:
        raise Invalid("per_page is too large", [FieldError("query.per_page", f"at most {settings.max_per_page}")])
    nxt, prev = http.page_links(request, page, per_page, len(items))
    http.link_header(response, nxt, prev)
    start = (page - 1) * per_page
    return list(items[start:start + per_page]), {"total": len(items), "page": page, "per_page": per_page,
                                                 "next": nxt, "prev": prev}


def _shown(view: access.View, response: Response) -> ApplicationOut:
    response.headers["ETag"] = etag(view.state.version)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Authorization, Cookie"
    return ApplicationOut.of(view)


# --- applications ---------------------------------------------------------------------------------------------

@router.post("/applications", status_code=201, response_model=ApplicationOut, operation_id="createApplication",
             responses={**problems(401, 403, 422, body=True),
                        201: {"description": "Created: a draft", "links": _LINKS,
                              "headers": {**_ETAG, "Location": {"schema": {"type": "string"}}}}})
def create_application(ctx: WriterContextDep, body: ApplicationIn, request: Request,
                       response: Response) -> ApplicationOut:
    """Start a draft application for public datasets (of one custodian or several: one part per custodian
    once it is submitted). Needs a signed-in person or a write token of your own."""
    row = access.create(ctx, body.dataset_ids, title=body.title)
    response.headers["Location"] = http.absolute(request, f"/api/v1/applications/{row.id}")
    return _shown(access.get(ctx, row.id), response)


@router.get("/applications", response_model=ApplicationPage, operation_id="listMyApplications",
            responses=problems(401, 422))
def list_applications(ctx: WriterContextDep, request: Request, response: Response, settings: SettingsDep,
                      paging: Paging) -> ApplicationPage:
    """Your applications (as applicant or collaborator), most recently changed first."""
    items, links = _page(access.mine(ctx), request, response, settings, paging)
    return ApplicationPage(items=[ApplicationSummary.of(a) for a in items], **links)


@router.get("/applications/{application_id}", response_model=ApplicationOut, operation_id="getApplication",
            responses={**problems(401, 404, 422), 304: {"description": DESCRIPTIONS[304]},
                       200: {"description": "The application as you may see it", "headers": _ETAG,
                             "links": _LINKS}})
def get_application(ctx: WriterContextDep, application_id: AppId, response: Response,
                    if_none_match: IfNoneMatch = None) -> Any:
    """Its status, parts with their sub-states, datasets, answers, purpose and the commands you may run now.
    Only its applicant side and, once submitted, its custodian teams see it (404 for anyone else)."""
    view = access.get(ctx, application_id)
    if http.not_modified(if_none_match, etag(view.state.version)):
        return Response(status_code=304, headers={"ETag": etag(view.state.version),
                                                  "Cache-Control": "private, no-cache"})
    return _shown(view, response)


@router.post("/applications/{application_id}/commands/{command}", response_model=ApplicationOut,
             operation_id="runApplicationCommand",
             responses={**problems(401, 403, 404, 409, 412, 422, body=True),
                        200: {"description": "The application after the command", "headers": _ETAG,
                              "links": _LINKS}})
def run_command(ctx: WriterContextDep, application_id: AppId, command: Annotated[lc.Command, Path(
        description="what to do; the application's `allowed` lists what you may run now")], response: Response,
                body: Annotated[CommandIn | None, Body()] = None, if_match: IfMatch = None) -> ApplicationOut:
    """Run one command: checked against the application's state and your role (409, listing the commands you
    may run), validated (422 naming each field; on submission every missing required answer by question) and
    appended as one event. A stale ``If-Match`` is 412, a stale ``version`` 409: nothing is ever lost."""
    command_in = body or CommandIn.model_validate({})
    expected = command_in.version
    named = _version_of(if_match) if if_match is not None else None
    if if_match is not None and (named is None or expected is not None) and if_match.strip() != "*":
        http.check_if_match(if_match, etag(access.get(ctx, application_id).state.version))  # a list of tags
    try:
        view = access.run(ctx, application_id, command, command_in.payload(), team_id=command_in.team_id,
                          expected_version=expected if expected is not None else named)
    except Conflict as stale:
        if expected is None and named is not None and [e.path for e in stale.errors] == ["version"]:
            shown = (if_match or "")[:100]
            raise PreconditionFailed("the application changed since you read it; read it again and retry",
                                     [FieldError("header.if-match", f"{shown} is not the current version")]) from None
        raise
    return _shown(view, response)


@router.get("/applications/{application_id}/events", response_model=list[EventOut],
            operation_id="listApplicationEvents", responses=problems(401, 404, 422))
def list_events(ctx: WriterContextDep, application_id: AppId) -> list[EventOut]:
    """The application's log as you may read it, oldest first: the applicant side never sees the custodians'
    internal events (who reviews, what reviewers said); a custodian sees its own part's and the whole's."""
    view = access.get(ctx, application_id)
    rows = access.event_rows(ctx, application_id)
    return [EventOut.of(r) for r in access.visible_events(view, rows)]


@router.get("/applications/{application_id}/messages", response_model=list[MessageOut],
            operation_id="listApplicationMessages", responses=problems(401, 404, 422))
def list_application_messages(ctx: WriterContextDep, application_id: AppId) -> list[MessageOut]:
    """Messages and notes you may read, oldest first: messages between the applicant side and your team (or
    every team, for the applicant side), and your side's own notes."""
    return [MessageOut.of(m) for m in messages.visible(ctx, "application", application_id)]


@router.post("/applications/{application_id}/messages", status_code=201, response_model=MessageOut,
             operation_id="postApplicationMessage", responses=problems(401, 403, 404, 422, body=True))
def post_application_message(ctx: WriterContextDep, application_id: AppId, body: MessageIn) -> MessageOut:
    """A message to the other side (``shared``, with one custodian team) or a note for your own side
    (``team``, ``applicant``), optionally about one question."""
    message = messages.post(ctx, "application", application_id, body.body, audience=body.audience,
                            team_id=body.team_id, question_id=body.question_id)
    return MessageOut.of(message)


@router.get("/teams/{team}/applications", response_model=QueuePage, operation_id="listTeamApplications",
            responses=problems(401, 403, 404, 422))
def team_queue(ctx: WriterContextDep, team: TeamRefP, request: Request, response: Response,
               settings: SettingsDep, query: Annotated[QueueQuery, Query()]) -> QueuePage:
    """The custodian team's queue: its parts of submitted applications, oldest submission first."""
    row = identity.resolve_team(ctx, team)
    found = access.queue(ctx, row.id, [s.value for s in query.state or ()])
    items, links = _page(found, request, response, settings, query)
    return QueuePage(items=[QueueItem.of(a, p) for a, p in items], **links)


# --- enquiries ------------------------------------------------------------------------------------------------

def _enquiry_out(ctx: Context, enquiry: Any) -> EnquiryOut:
    return EnquiryOut.of(enquiry, enquiries.dataset_ids(ctx, enquiry.id), enquiries.teams_of(ctx, enquiry.id))


@router.post("/enquiries", status_code=201, response_model=EnquiryOut, operation_id="openEnquiry",
             responses={**problems(401, 403, 422, body=True),
                        201: {"description": "Opened", "links": _ENQUIRY_LINKS,
                              "headers": {"Location": {"schema": {"type": "string"}}}}})
def open_enquiry(ctx: WriterContextDep, body: EnquiryIn, request: Request, response: Response) -> EnquiryOut:
    """Ask the custodians of these public datasets a question (general or feasibility); each custodian team
    gets the first message in its own thread."""
    enquiry = enquiries.open_enquiry(ctx, body.dataset_ids, body.subject, body.body, kind=body.kind)
    response.headers["Location"] = http.absolute(request, f"/api/v1/enquiries/{enquiry.id}")
    return _enquiry_out(ctx, enquiry)


@router.get("/enquiries", response_model=EnquiryPage, operation_id="listMyEnquiries",
            responses=problems(401, 422))
def list_enquiries(ctx: WriterContextDep, request: Request, response: Response, settings: SettingsDep,
                   paging: Paging) -> EnquiryPage:
    """Your enquiries, most recently changed first."""
    items, links = _page(enquiries.mine(ctx), request, response, settings, paging)
    return EnquiryPage(items=[_enquiry_out(ctx, e) for e in items], **links)


@router.get("/enquiries/{enquiry_id}", response_model=EnquiryOut, operation_id="getEnquiry",
            responses={**problems(401, 404, 422), 200: {"description": "The enquiry", "links": _ENQUIRY_LINKS}})
def get_enquiry(ctx: WriterContextDep, enquiry_id: EnquiryId) -> EnquiryOut:
    """An enquiry, to its author and the custodian teams it asks (404 for anyone else)."""
    return _enquiry_out(ctx, enquiries.get(ctx, enquiry_id))


@router.get("/enquiries/{enquiry_id}/messages", response_model=list[MessageOut],
            operation_id="listEnquiryMessages", responses=problems(401, 404, 422))
def list_enquiry_messages(ctx: WriterContextDep, enquiry_id: EnquiryId) -> list[MessageOut]:
    return [MessageOut.of(m) for m in messages.visible(ctx, "enquiry", enquiry_id)]


@router.post("/enquiries/{enquiry_id}/messages", status_code=201, response_model=MessageOut,
             operation_id="postEnquiryMessage", responses=problems(401, 403, 404, 422, body=True))
def post_enquiry_message(ctx: WriterContextDep, enquiry_id: EnquiryId, body: MessageIn) -> MessageOut:
    """A reply in the enquiry's thread with one custodian team (``team_id`` when it asks several)."""
    message = messages.post(ctx, "enquiry", enquiry_id, body.body, audience=body.audience, team_id=body.team_id,
                            question_id=body.question_id)
    return MessageOut.of(message)


@router.post("/enquiries/{enquiry_id}/application", status_code=201, response_model=ApplicationOut,
             operation_id="applyFromEnquiry",
             responses={**problems(401, 403, 404, 409, 422, body=True),
                        201: {"description": "Created: a draft for the enquiry's datasets", "links": _LINKS,
                              "headers": {**_ETAG, "Location": {"schema": {"type": "string"}}}}})
def apply_from_enquiry(ctx: WriterContextDep, enquiry_id: EnquiryId, request: Request, response: Response,
                       body: Annotated[EnquiryApplicationIn | None, Body()] = None) -> ApplicationOut:
    """Turn your enquiry into a draft application for the same datasets (once; 409 after that)."""
    row = enquiries.to_application(ctx, enquiry_id, title=body.title if body else "")
    response.headers["Location"] = http.absolute(request, f"/api/v1/applications/{row.id}")
    return _shown(access.get(ctx, row.id), response)


@router.get("/teams/{team}/enquiries", response_model=EnquiryPage, operation_id="listTeamEnquiries",
            responses=problems(401, 403, 404, 422))
def team_enquiries(ctx: WriterContextDep, team: TeamRefP, request: Request, response: Response,
                   settings: SettingsDep, paging: Paging) -> EnquiryPage:
    """The enquiries that ask this custodian team, most recently changed first."""
    row = identity.resolve_team(ctx, team)
    items, links = _page(enquiries.for_team(ctx, row.id), request, response, settings, paging)
    return EnquiryPage(items=[_enquiry_out(ctx, e) for e in items], **links)
