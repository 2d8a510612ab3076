"""/api/v1/datasets and /api/v1/validate: parse, call the service, shape the response. No SQL here.

Every write authenticates before it looks anything up, accepts ``If-Match`` (412 when stale) beside the older
``row_version`` query parameter (409 when stale), and answers with the dataset's new ``ETag``."""

from __future__ import annotations

import enum
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from healthgate.catalogue import metadata, service
from healthgate.catalogue.models import Dataset, DatasetStatus
from healthgate.catalogue.schemas import (
    DatasetPage,
    DatasetSummary,
    DiffOut,
    DraftDetail,
    DraftOut,
    StatusOut,
    UnpublishedDataset,
    ValidationOut,
    VersionListItem,
    VersionOut,
)
from healthgate.catalogue.standard.validate import ALIASES
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid, NotFound, TooLarge
from healthgate.identity import service as identity
from healthgate.web import http
from healthgate.web.deps import ContextDep, SessionDep, SettingsDep, WriterContextDep, get_actor
from healthgate.web.openapi import DESCRIPTIONS, OPTIONAL_AUTH, problems

# Every route checks a token that is sent (401 for a bad one), so an invented token never passes as a real one.
router = APIRouter(prefix="/api/v1", tags=["catalogue"], dependencies=[Depends(get_actor)])
MAX_INT = 2**31 - 1
SchemaVersion = enum.StrEnum("SchemaVersion", {v.replace(".", "_"): v for v in ALIASES})  # type: ignore[misc]
SchemaVersionQ = Annotated[SchemaVersion | None, Query(description="HDR UK schema version of the body; "
                                                                   "detected if absent")]
RowVersionQ = Annotated[int | None, Query(ge=1, le=MAX_INT,
                                          description="optimistic concurrency: the row_version you read (409 if stale)")]
IfMatch = Annotated[str | None, Header(description="the ETag you read; 412 if the dataset changed since")]
IfNoneMatch = Annotated[str | None, Header(description="an ETag you hold; 304 if it is still current")]
DatasetId = Annotated[uuid.UUID, Path(description="the dataset's persistent id")]


async def _read_document(request: Request) -> Any:
    """The JSON body: declared as JSON (415), size-limited (413), parsed with errors naming line and column."""
    http.require_json(request)
    limit = request.app.state.settings.max_document_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge("document too large", [FieldError("$", f"document is {declared} bytes; the limit is {limit}")])
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > limit:
            raise TooLarge("document too large", [FieldError("$", f"document exceeds {limit} bytes")])
    if not raw:
        raise Invalid("empty body", [FieldError("$", "send a JSON metadata document")])
    return metadata.parse_json(bytes(raw))


Document = Annotated[Any, Depends(_read_document)]  # read on the event loop; routes then run in the threadpool
_SUMMARY = {"type": "object", "required": ["title"], "description": "the summary section; a title is required",
            "properties": {"title": {"type": "string", "minLength": 1, "pattern": "\\S"}}}
_DOCUMENT = {"type": "object", "required": ["summary"], "properties": {"summary": _SUMMARY},
             "description": "a bare HDR UK document (2.1.x, 3.0.0 or 4.0.0; the version is detected)"}
_ENVELOPE = {"type": "object", "required": ["schemaVersion", "metadata"],
             "properties": {"schemaVersion": {"enum": list(ALIASES)}, "metadata": _DOCUMENT},
             "description": "an HDR UK document with its version: {\"schemaVersion\": \"4.0.0\", \"metadata\": {...}}"}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "description": "An HDR UK dataset document, checked against its version's official schema: problems are "
    "reported in the answer (refused with 422 under strict=true or when publishing)",
    "anyOf": [_DOCUMENT, _ENVELOPE]}}}}}
_ANY_DOCUMENT = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "Any JSON object: an HDR UK document, bare or as {\"schemaVersion\": ..., "
    "\"metadata\": {...}}; what is wrong with it is the answer (422 only if its version cannot be told)"}}}}}
_ETAG = {"ETag": {"description": "the dataset's entity tag, for If-Match and If-None-Match",
                  "schema": {"type": "string"}}}


def _link(op: str, **params: str) -> dict[str, Any]:
    return {"operationId": op, "parameters": params}


_ID = "$response.body#/id"
_DATASET_LINKS = {
    "GetDataset": _link("getDataset", dataset_id=_ID),
    "GetDraft": _link("getDraft", dataset_id=_ID),
    "UpdateDraft": _link("updateDraft", dataset_id=_ID),
    "PublishDataset": _link("publishDataset", dataset_id=_ID),
    "DiscardDraft": _link("discardDraft", dataset_id=_ID),
    "ArchiveDataset": _link("archiveDataset", dataset_id=_ID),
    "UnarchiveDataset": _link("unarchiveDataset", dataset_id=_ID),
    "ListVersions": _link("listVersions", dataset_id=_ID),
}
_VERSION_LINKS = {
    **_DATASET_LINKS,
    "GetVersion": _link("getVersion", dataset_id=_ID, number="$response.body#/version"),
    "SimilarDatasets": _link("similarDatasets", dataset_id=_ID),
}
DESCRIPTIONS_304 = DESCRIPTIONS[304]
WRITE_ERRORS = (401, 403, 404, 409, 410, 412, 422)
BODY_ERRORS = (413, 415, 422)


class Paging(BaseModel):
    model_config = ConfigDict(frozen=True)

    page: int = Field(1, ge=1, le=10**9)
    per_page: int = Field(20, ge=1, description="at most the server's max_per_page (100 by default)")


def _version(value: SchemaVersion | None) -> str | None:
    return value.value if value is not None else None


def _visible(ctx: Context, dataset_id: uuid.UUID) -> Dataset:
    """The dataset if this actor may see it (404/410 otherwise): checked before any permission, so that a
    write to an id the caller may not see answers exactly as a write to an unknown id."""
    return service.get_dataset(ctx, dataset_id)


def _etag(dataset: Dataset) -> str:
    return http.dataset_etag(dataset.row_version, dataset.latest_version)


def _mutable(response: Response, dataset: Dataset) -> None:
    response.headers["ETag"] = _etag(dataset)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Authorization"


@router.get("/datasets", response_model=DatasetPage, operation_id="listDatasets",
            openapi_extra=OPTIONAL_AUTH, responses=problems(422))
def list_datasets(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep,
    paging: Annotated[Paging, Query()],
) -> DatasetPage:
    """Published datasets, most recently updated first, with ``next``/``prev`` links (also in ``Link``)."""
    if paging.per_page > settings.max_per_page:
        raise Invalid("per_page is too large", [FieldError("query.per_page",
                                                           f"at most {settings.max_per_page}")])
    result = service.list_public(session, page=paging.page, per_page=paging.per_page)
    nxt, prev = http.page_links(request, result.page, result.per_page, result.total)
    http.link_header(response, nxt, prev)
    return DatasetPage(total=result.total, page=result.page, per_page=result.per_page,
                       items=[DatasetSummary.of(v) for v in result.items], next=nxt, prev=prev)


def _draft_out(dataset: Dataset, checked: metadata.Checked) -> DraftOut:
    return DraftOut(id=dataset.id, status=dataset.status.value, team=dataset.team.name,
                    row_version=dataset.row_version, latest_version=dataset.latest_version,
                    validation=checked.report())  # type: ignore[arg-type]


@router.post("/datasets", status_code=201, response_model=DraftOut, openapi_extra=_BODY,
             operation_id="createDataset",
             responses={**problems(401, 403, 404, 409, *BODY_ERRORS),
                        201: {"description": "Created: a dataset holding a draft", "links": _DATASET_LINKS,
                              "headers": {**_ETAG, "Location": {"schema": {"type": "string"}}}}})
def create_dataset(
    ctx: WriterContextDep, doc: Document, request: Request, response: Response,
    team: Annotated[str, Query(min_length=1, max_length=300, description="owning custodian team")],
    member_group: Annotated[str | None, Query(max_length=120)] = None,
    schema_version: SchemaVersionQ = None, strict: bool = False,
) -> DraftOut:
    """Create a dataset with a draft. Schema problems are reported in ``validation`` (or refused with
    ``strict=true``); publishing checks them again."""
    owner = identity.get_or_create_team(ctx, team, member_group=member_group)
    dataset, checked = service.create_draft(ctx, owner.id, doc, schema_version=_version(schema_version), strict=strict,
                                            max_bytes=request.app.state.settings.max_document_bytes)
    _mutable(response, dataset)
    response.headers["Location"] = http.absolute(request, f"/api/v1/datasets/{dataset.id}")
    return _draft_out(dataset, checked)


@router.put("/datasets/{dataset_id}/draft", response_model=DraftOut, openapi_extra=_BODY,
            operation_id="updateDraft",
            responses={**problems(*WRITE_ERRORS, *BODY_ERRORS),
                       200: {"description": "The draft, checked", "headers": _ETAG, "links": _DATASET_LINKS}})
def update_draft(
    ctx: WriterContextDep, dataset_id: DatasetId, doc: Document, request: Request, response: Response, schema_version: SchemaVersionQ = None, strict: bool = False,
    row_version: RowVersionQ = None, if_match: IfMatch = None,
) -> DraftOut:
    http.check_if_match(if_match, _etag(_visible(ctx, dataset_id)))
    dataset, checked = service.update_draft(ctx, dataset_id, doc, schema_version=_version(schema_version), expected_row_version=row_version,
                                            strict=strict, max_bytes=request.app.state.settings.max_document_bytes)
    _mutable(response, dataset)
    return _draft_out(dataset, checked)


@router.get("/datasets/{dataset_id}/draft", response_model=DraftDetail, operation_id="getDraft",
            responses={**problems(401, 404, 410, 422), 304: {"description": DESCRIPTIONS_304},
                       200: {"description": "The draft", "headers": _ETAG}})
def get_draft(
    ctx: WriterContextDep, dataset_id: DatasetId, response: Response,
    if_none_match: IfNoneMatch = None,
) -> Any:
    """The working copy, to its team only (authenticate first: drafts are never public)."""
    dataset = _visible(ctx, dataset_id)
    if not service.can_see_private(ctx.actor, dataset) or dataset.draft is None:
        raise NotFound(f"dataset {dataset_id} has no draft you can see")
    if http.not_modified(if_none_match, _etag(dataset)):
        return _not_modified(dataset)
    _mutable(response, dataset)
    checked = metadata.check(dataset.draft)
    return DraftDetail(**_draft_out(dataset, checked).model_dump(), draft=dataset.draft)


def _not_modified(dataset: Dataset) -> Response:
    return Response(status_code=304, headers={"ETag": _etag(dataset), "Cache-Control": "private, no-cache",
                                              "Vary": "Authorization"})


@router.delete("/datasets/{dataset_id}/draft", status_code=204, operation_id="discardDraft",
               responses={**problems(*WRITE_ERRORS), 204: {"description": "Discarded", "headers": _ETAG}})
def discard_draft(
    ctx: WriterContextDep, dataset_id: DatasetId,
    if_match: IfMatch = None,
) -> Response:
    http.check_if_match(if_match, _etag(_visible(ctx, dataset_id)))
    dataset = service.discard_draft(ctx, dataset_id)
    ctx.session.flush()
    out = Response(status_code=204)
    out.headers["ETag"] = _etag(dataset)
    return out


@router.post("/datasets/{dataset_id}/publish", response_model=VersionOut, operation_id="publishDataset",
             responses={**problems(*WRITE_ERRORS),
                        200: {"description": "The new version", "headers": _ETAG, "links": _VERSION_LINKS}})
def publish(
    ctx: WriterContextDep, dataset_id: DatasetId, response: Response,
    accept_invalid: Annotated[bool, Query(description="publish even with schema errors (they lower the score)")]
    = False,
    row_version: RowVersionQ = None, if_match: IfMatch = None,
) -> VersionOut:
    http.check_if_match(if_match, _etag(_visible(ctx, dataset_id)))
    version = service.publish(ctx, dataset_id, accept_invalid=accept_invalid,
                              expected_row_version=row_version)
    dataset = service.get_dataset(ctx, dataset_id)
    _mutable(response, dataset)
    return VersionOut.full(version, dataset, service.quality_report(version))


def _status(dataset: Dataset, response: Response) -> StatusOut:
    _mutable(response, dataset)
    return StatusOut(id=dataset.id, status=dataset.status.value,
                     row_version=dataset.row_version, latest_version=dataset.latest_version)


@router.post("/datasets/{dataset_id}/archive", response_model=StatusOut, operation_id="archiveDataset",
             responses={**problems(*WRITE_ERRORS),
                        200: {"description": "Archived", "headers": _ETAG, "links": _DATASET_LINKS}})
def archive(
    ctx: WriterContextDep, dataset_id: DatasetId, response: Response, if_match: IfMatch = None,
) -> StatusOut:
    """Withdraw a dataset from public view: its public routes answer 410 Gone, its team still sees it."""
    http.check_if_match(if_match, _etag(_visible(ctx, dataset_id)))
    dataset = service.archive(ctx, dataset_id)
    return _status(dataset, response)


@router.post("/datasets/{dataset_id}/unarchive", response_model=StatusOut, operation_id="unarchiveDataset",
             responses={**problems(*WRITE_ERRORS),
                        200: {"description": "Back in view", "headers": _ETAG, "links": _DATASET_LINKS}})
def unarchive(
    ctx: WriterContextDep, dataset_id: DatasetId, response: Response, if_match: IfMatch = None,
) -> StatusOut:
    http.check_if_match(if_match, _etag(_visible(ctx, dataset_id)))
    dataset = service.unarchive(ctx, dataset_id)
    return _status(dataset, response)


@router.get("/datasets/{dataset_id}", response_model=VersionOut | UnpublishedDataset, operation_id="getDataset",
            openapi_extra=OPTIONAL_AUTH,
            responses={**problems(401, 404, 410, 422), 304: {"description": DESCRIPTIONS_304},
                       200: {"description": "The latest published version; to its team, a never-published "
                             "dataset's draft summary (status draft)", "headers": _ETAG}})
def get_dataset(
    dataset_id: DatasetId, response: Response, ctx: ContextDep,
    if_none_match: IfNoneMatch = None,
) -> Any:
    """The latest published version, or, to the dataset's own team, the summary of a draft never published."""
    dataset = _visible(ctx, dataset_id)
    if http.not_modified(if_none_match, _etag(dataset)):
        return _not_modified(dataset)
    _mutable(response, dataset)
    if dataset.latest_version == 0:
        return _unpublished(dataset)
    version = service.latest_version(ctx, dataset_id)
    return VersionOut.full(version, dataset, service.quality_report(version))


def _unpublished(dataset: Dataset) -> UnpublishedDataset:
    title, abstract = "", None
    if dataset.draft is not None:
        extracted = metadata.check(dataset.draft).extracted
        title, abstract = extracted.title or "", extracted.abstract
    return UnpublishedDataset(
        id=dataset.id, status="draft", team=dataset.team.name, member_group=dataset.team.member_group,
        title=title, abstract=abstract, row_version=dataset.row_version, latest_version=0,
        draft_schema_version=dataset.draft_schema_version, draft_updated_at=dataset.draft_updated_at,
    )


@router.get("/datasets/{dataset_id}/versions", response_model=list[VersionListItem], operation_id="listVersions",
            openapi_extra=OPTIONAL_AUTH,
            responses=problems(401, 404, 410, 422))
def list_versions(dataset_id: DatasetId, ctx: ContextDep) -> list[VersionListItem]:
    return [
        VersionListItem(version=v.number, published_at=v.published_at, published_by=v.published_by, title=v.title,
                        quality_score=v.quality_score, medallion=v.medallion,
                        source_schema_version=v.source_schema_version)
        for v in service.versions(ctx, dataset_id)
    ]


@router.get("/datasets/{dataset_id}/versions/{number}", response_model=VersionOut, operation_id="getVersion",
            openapi_extra=OPTIONAL_AUTH,
            responses={**problems(401, 404, 410, 422), 304: {"description": DESCRIPTIONS_304},
                       200: {"description": "A published version: immutable", "headers": _ETAG}})
def get_version(
    dataset_id: DatasetId, number: Annotated[int, Path(ge=1, le=MAX_INT)],
    ctx: ContextDep, if_none_match: IfNoneMatch = None,
) -> Response:
    """One published version. Public versions never change: cache them (strong ``ETag``, ``immutable``)."""
    dataset = _visible(ctx, dataset_id)
    version = service.version(ctx, dataset_id, number)
    out = VersionOut.full(version, dataset, service.quality_report(version))
    body = out.model_dump_json().encode()
    etag = http.content_etag(body)
    public = dataset.status == DatasetStatus.ACTIVE
    headers = {"ETag": etag, "Vary": "Authorization",
               "Cache-Control": f"public, max-age={http.IMMUTABLE_MAX_AGE}, immutable" if public
               else "private, no-cache"}
    if http.not_modified(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/datasets/{dataset_id}/diff", response_model=DiffOut, operation_id="diffVersions",
            openapi_extra=OPTIONAL_AUTH,
            responses=problems(401, 404, 410, 422))
def diff(
    dataset_id: DatasetId, ctx: ContextDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_INT)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_INT)],
) -> DiffOut:
    changes = service.diff_versions(ctx, dataset_id, from_version, to_version)
    return DiffOut.model_validate({"from": from_version, "to": to_version, "changes": changes})


@router.post("/validate", response_model=ValidationOut, openapi_extra={**_ANY_DOCUMENT, **OPTIONAL_AUTH},
             operation_id="validateDocument",
             responses=problems(*BODY_ERRORS))
def validate(doc: Document, schema_version: SchemaVersionQ = None) -> ValidationOut:
    """Check a metadata document without storing anything."""
    checked = metadata.check(doc, _version(schema_version))
    return ValidationOut.model_validate(checked.report())
