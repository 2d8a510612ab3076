"""/api/v1/datasets and /api/v1/validate: parse, call the service, shape the response. No SQL here."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from healthgate.catalogue import metadata, service
from healthgate.catalogue.schemas import (
    DatasetPage,
    DatasetSummary,
    DraftOut,
    ValidationOut,
    VersionListItem,
    VersionOut,
)
from healthgate.errors import FieldError, Invalid, NotFound, TooLarge
from healthgate.identity import service as identity
from healthgate.web.deps import ActorDep, ClockDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["catalogue"])
MAX_INT = 2**31 - 1
SchemaVersionQ = Annotated[str | None, Query(description="HDR UK schema version of the body; detected if absent")]


async def _read_document(request: Request) -> Any:
    """The JSON body, size-limited and parsed with errors that name line and column."""
    limit = request.app.state.settings.max_document_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge("document too large",
                                [FieldError("$", f"document is {declared} bytes; the limit is {limit}")])
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > limit:
            raise TooLarge("document too large", [FieldError("$", f"document exceeds {limit} bytes")])
    if not raw:
        raise Invalid("empty body", [FieldError("$", "send a JSON metadata document")])
    return metadata.parse_json(bytes(raw))


Document = Annotated[Any, Depends(_read_document)]  # read on the event loop; routes then run in the threadpool
_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "An HDR UK dataset document (2.1.x, 3.0.0 or 4.0.0), bare or as "
    "{\"schemaVersion\": \"4.0.0\", \"metadata\": {...}}"}}}}}


@router.get("/datasets", response_model=DatasetPage)
def list_datasets(
    session: SessionDep, page: Annotated[int, Query(ge=1, le=10**9)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DatasetPage:
    result = service.list_public(session, page=page, per_page=per_page)
    return DatasetPage(total=result.total, page=result.page, per_page=result.per_page,
                       items=[DatasetSummary.of(v) for v in result.items])


def _draft_out(dataset: Any, checked: metadata.Checked) -> DraftOut:
    return DraftOut(id=dataset.id, status=dataset.status.value, team=dataset.team.name,
                    row_version=dataset.row_version, latest_version=dataset.latest_version,
                    validation=checked.report())


@router.post("/datasets", status_code=201, response_model=DraftOut, openapi_extra=_BODY)
def create_dataset(
    doc: Document, session: SessionDep, actor: ActorDep, clock: ClockDep,
    team: Annotated[str, Query(min_length=1, max_length=300, description="owning custodian team")],
    member_group: Annotated[str | None, Query(max_length=120)] = None,
    schema_version: SchemaVersionQ = None, strict: bool = False,
) -> DraftOut:
    """Create a dataset with a draft. Schema problems are reported in ``validation`` (or refused with
    ``strict=true``); publishing checks them again."""
    owner = identity.get_or_create_team(session, actor, team, member_group=member_group, clock=clock)
    dataset, checked = service.create_draft(session, actor, owner.id, doc, clock=clock,
                                            schema_version=schema_version, strict=strict)
    return _draft_out(dataset, checked)


@router.put("/datasets/{dataset_id}/draft", response_model=DraftOut, openapi_extra=_BODY)
def update_draft(
    doc: Document, dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep, clock: ClockDep,
    schema_version: SchemaVersionQ = None, strict: bool = False,
    row_version: Annotated[int | None, Query(description="optimistic concurrency: the row_version you read")] = None,
) -> DraftOut:
    dataset, checked = service.update_draft(session, actor, dataset_id, doc, clock=clock,
                                            schema_version=schema_version, expected_row_version=row_version,
                                            strict=strict)
    return _draft_out(dataset, checked)


@router.get("/datasets/{dataset_id}/draft")
def get_draft(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    dataset = service.get_dataset(session, actor, dataset_id)
    if not service.can_see_private(actor, dataset) or dataset.draft is None:
        raise NotFound(f"dataset {dataset_id} has no draft you can see")
    checked = metadata.check(dataset.draft)
    return {**_draft_out(dataset, checked).model_dump(mode="json"), "draft": dataset.draft}


@router.delete("/datasets/{dataset_id}/draft", status_code=204)
def discard_draft(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep, clock: ClockDep) -> Response:
    service.discard_draft(session, actor, dataset_id, clock=clock)
    return Response(status_code=204)


@router.post("/datasets/{dataset_id}/publish", response_model=VersionOut)
def publish(
    dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep, clock: ClockDep,
    accept_invalid: Annotated[bool, Query(description="publish even with schema errors (they lower the score)")]
    = False,
    row_version: Annotated[int | None, Query()] = None,
) -> VersionOut:
    version = service.publish(session, actor, dataset_id, clock=clock, accept_invalid=accept_invalid,
                              expected_row_version=row_version)
    return VersionOut.full(version, service.get_dataset(session, actor, dataset_id), service.quality_report(version))


@router.post("/datasets/{dataset_id}/archive")
def archive(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep, clock: ClockDep) -> dict[str, Any]:
    dataset = service.archive(session, actor, dataset_id, clock=clock)
    return {"id": str(dataset.id), "status": dataset.status.value}


@router.post("/datasets/{dataset_id}/unarchive")
def unarchive(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep, clock: ClockDep) -> dict[str, Any]:
    dataset = service.unarchive(session, actor, dataset_id, clock=clock)
    return {"id": str(dataset.id), "status": dataset.status.value}


@router.get("/datasets/{dataset_id}", response_model=VersionOut)
def get_dataset(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> VersionOut:
    """The latest published version."""
    version = service.latest_version(session, actor, dataset_id)
    return VersionOut.full(version, service.get_dataset(session, actor, dataset_id), service.quality_report(version))


@router.get("/datasets/{dataset_id}/versions", response_model=list[VersionListItem])
def list_versions(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[VersionListItem]:
    return [
        VersionListItem(version=v.number, published_at=v.published_at, published_by=v.published_by, title=v.title,
                        quality_score=v.quality_score, medallion=v.medallion,
                        source_schema_version=v.source_schema_version)
        for v in service.versions(session, actor, dataset_id)
    ]


@router.get("/datasets/{dataset_id}/versions/{number}", response_model=VersionOut)
def get_version(
    dataset_id: uuid.UUID, number: Annotated[int, Path(ge=1, le=MAX_INT)], session: SessionDep, actor: ActorDep,
) -> VersionOut:
    version = service.version(session, actor, dataset_id, number)
    return VersionOut.full(version, service.get_dataset(session, actor, dataset_id), service.quality_report(version))


@router.get("/datasets/{dataset_id}/diff")
def diff(
    dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_INT)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_INT)],
) -> dict[str, Any]:
    changes = service.diff_versions(session, actor, dataset_id, from_version, to_version)
    return {"from": from_version, "to": to_version, "changes": changes}


@router.post("/validate", response_model=ValidationOut, openapi_extra=_BODY)
def validate(doc: Document, schema_version: SchemaVersionQ = None) -> ValidationOut:
    """Check a metadata document without storing anything."""
    checked = metadata.check(doc, schema_version)
    return ValidationOut(**checked.report())
