"""JSON API of the alliance: members (public list; the alliance admin writes), letters of intent and the
obligations (the alliance admin's), and the public transparency statistics. No SQL and no permission checks
here: ``alliance.service``, ``alliance.obligations`` and ``alliance.statistics`` decide."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile

from healthgate.access.templates_api import store
from healthgate.alliance import obligations as ob
from healthgate.alliance import service, statistics
from healthgate.alliance.schemas import (
    LetterOut,
    MemberIn,
    MemberOut,
    MembersOut,
    MemberType,
    MemberUpdate,
    ObligationKey,
    ObligationOut,
    ObligationsOut,
    ObligationStatus,
    Sort,
    StatisticsOut,
    StatusCount,
)
from healthgate.errors import FieldError, TooLarge
from healthgate.web import http
from healthgate.web.deps import ContextDep, WriterContextDep, get_actor
from healthgate.web.openapi import OPTIONAL_AUTH, problems

router = APIRouter(prefix="/api/v1", tags=["alliance"], dependencies=[Depends(get_actor)])
MemberId = Annotated[uuid.UUID, Path(description="the member's id")]
LetterId = Annotated[uuid.UUID, Path(description="the letter's id")]
DEFAULT_SORT = Sort("due")
_ID = "$response.body#/id"
_LINKS = {"GetMember": {"operationId": "getAllianceMember", "parameters": {"member_id": _ID}},
          "ListLetters": {"operationId": "listLettersOfIntent", "parameters": {"member_id": _ID}}}


def _data(body: MemberIn) -> service.MemberData:
    return service.MemberData(organisation=body.organisation, member_type=body.member_type.value,
                              join_date=body.join_date, wave=body.wave, announced_on=body.announced_on,
                              left_on=body.left_on, public=body.public, description=body.description)


@router.get("/alliance/members", response_model=MembersOut, operation_id="listAllianceMembers",
            openapi_extra=OPTIONAL_AUTH, responses=problems(422))
def list_members(ctx: ContextDep, everyone: Annotated[bool, Query(
        description="also hidden members and members that left (the alliance admin only; ignored for others)")]
        = False) -> MembersOut:
    """The alliance's members, newest announcement wave first: the public page's list (anyone)."""
    rows = service.members(ctx, everyone=everyone)
    return MembersOut(total=len(rows), items=[MemberOut.of(m, o) for m, o in rows])


@router.post("/alliance/members", status_code=201, response_model=MemberOut, operation_id="createAllianceMember",
             responses={**problems(401, 403, 409, 422, body=True),
                        201: {"description": "Created", "links": _LINKS,
                              "headers": {"Location": {"schema": {"type": "string"}}}}})
def create_member(ctx: WriterContextDep, body: MemberIn, request: Request, response: Response) -> MemberOut:
    """Add a member (the alliance admin): an organisation already on the gateway, its type, join date and
    announcement wave (proposed from the join date when left out). Audited."""
    member = service.create(ctx, _data(body))
    response.headers["Location"] = http.absolute(request, f"/api/v1/alliance/members/{member.id}")
    return MemberOut.of(member, service.organisation_of(ctx, member))


@router.get("/alliance/members/{member_id}", response_model=MemberOut, operation_id="getAllianceMember",
            openapi_extra=OPTIONAL_AUTH, responses=problems(404, 422))
def get_member(ctx: ContextDep, member_id: MemberId) -> MemberOut:
    member = service.get(ctx, member_id)
    return MemberOut.of(member, service.organisation_of(ctx, member))


@router.put("/alliance/members/{member_id}", response_model=MemberOut, operation_id="updateAllianceMember",
            responses=problems(401, 403, 404, 409, 422, body=True))
def update_member(ctx: WriterContextDep, member_id: MemberId, body: MemberUpdate) -> MemberOut:
    """Replace a member's fields (the alliance admin); setting ``left_on`` records that it left. Audited."""
    member = service.update(ctx, member_id, _data(body), expected_version=body.row_version)
    return MemberOut.of(member, service.organisation_of(ctx, member))


@router.get("/alliance/members/{member_id}/letters", response_model=list[LetterOut],
            operation_id="listLettersOfIntent", responses=problems(401, 403, 404, 422))
def list_letters(ctx: WriterContextDep, member_id: MemberId) -> list[LetterOut]:
    """A member's signed letters of intent, latest first (the alliance admin)."""
    return [LetterOut.of(x) for x in service.letters(ctx, member_id)]


@router.post("/alliance/members/{member_id}/letters", status_code=201, response_model=LetterOut,
             operation_id="addLetterOfIntent",
             responses={**problems(401, 403, 404, 413, 415, 422),
                        400: {"description": "The body could not be read as multipart form data"}})
def add_letter(
    ctx: WriterContextDep, request: Request, member_id: MemberId,
    signed_on: Annotated[date, Form(description="the day it was signed")],
    signatory_name: Annotated[str, Form(min_length=1, max_length=service.MAX_NAME)],
    signatory_position: Annotated[str, Form(min_length=1, max_length=service.MAX_NAME)],
    file: Annotated[UploadFile | None, File(description=f"the signed letter: {service.LETTER_ALLOWED}")] = None,
) -> LetterOut:
    """Record a signed letter of intent with its signed document (the alliance admin). The document's type is
    checked by its content; at most HEALTHGATE_ATTACHMENT_MAX_BYTES. Audited."""
    limit = int(request.app.state.settings.attachment_max_bytes)
    content: bytes | None = None
    filename: str | None = None
    if file is not None:
        content = file.file.read(limit + 1)
        if len(content) > limit:
            raise TooLarge("file too large", [FieldError("file", f"the limit is {limit} bytes")])
        filename = file.filename or "letter"
    letter = service.add_letter(ctx, store(request), member_id,
                                service.LetterData(signed_on, signatory_name, signatory_position),
                                filename=filename, content=content, max_bytes=limit)
    return LetterOut.of(letter)


@router.get("/alliance/members/{member_id}/letters/{letter_id}/document", operation_id="downloadLetterOfIntent",
            response_class=Response, responses={**problems(401, 403, 404, 422), 200: {
                "description": "The signed document", "content": {"application/octet-stream": {"schema": {
                    "type": "string", "format": "binary"}}}}})
def download_letter(ctx: WriterContextDep, request: Request, member_id: MemberId, letter_id: LetterId) -> Response:
    got = service.download_letter(ctx, store(request), member_id, letter_id)
    return letter_response(got)


def letter_response(got: service.LetterDownload) -> Response:
    name = got.letter.filename or "letter"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
    return Response(got.data, media_type=got.letter.content_type or "application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@router.get("/alliance/obligations", response_model=ObligationsOut, operation_id="listAllianceObligations",
            responses=problems(401, 403, 422))
def list_obligations(
    ctx: WriterContextDep,
    status: Annotated[ObligationStatus | None, Query(description="only this status")] = None,
    obligation: Annotated[ObligationKey | None, Query(description="only this obligation")] = None,
    member_type: Annotated[MemberType | None, Query(description="only members of this type")] = None,
    q: Annotated[str | None, Query(max_length=200, description="organisation name contains, or its ROR id")] = None,
    sort: Annotated[Sort, Query(description="order: due date, organisation, status, join date, obligation")]
    = DEFAULT_SORT,
    descending: bool = False,
) -> ObligationsOut:
    """Every member's obligations as of now, with status, due date and evidence (the alliance admin)."""
    board = ob.board(ctx)
    items = ob.rows(board, status=status.value if status else None, obligation=obligation.value if obligation
                    else None, member_type=member_type.value if member_type else None, q=q, sort=sort.value,
                    descending=descending)
    return ObligationsOut(as_of=board.today,
                          counts=[StatusCount(status=k, obligations=n) for k, n in board.counts().items()],
                          items=[ObligationOut.of(r) for r in items])


@router.get("/statistics", response_model=StatisticsOut, operation_id="getTransparencyStatistics",
            openapi_extra=OPTIONAL_AUTH, responses=problems(422))
def get_statistics(ctx: ContextDep) -> StatisticsOut:
    """The alliance's transparency statistics (anyone): access requests received and approved per quarter and
    by custodian, median waiting time per custodian, register entries by sector and access type, catalogue
    quality by custodian. The same figures as /statistics, where each is also a CSV."""
    return StatisticsOut.of(statistics.compute(ctx))
