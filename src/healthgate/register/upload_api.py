"""JSON API for register uploads: ``POST /api/v1/teams/{team_ref}/data-uses/upload`` (multipart: the file,
``dry_run``, ``publish``, ``confirm``). Parse, call ``register.upload``, shape the answer; no SQL, no permission
checks here. 422 lists every problem by row and column; 413 for a file over the limits (or a zip bomb); 415 for
a file that is neither CSV nor XLSX."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from healthgate.errors import FieldError, TooLarge
from healthgate.identity import service as identity
from healthgate.interop import register_table as T
from healthgate.register import upload as uploads
from healthgate.web.deps import WriterContextDep, get_actor
from healthgate.web.openapi import problems

router = APIRouter(prefix="/api/v1", tags=["register"], dependencies=[Depends(get_actor)])
TeamRef = Annotated[str, Path(min_length=1, max_length=300, description="the custodian team's id or slug")]


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class UploadRowOut(Out):
    row: int = Field(description="the row number as a spreadsheet shows it")
    action: str = Field(description="create | update | unchanged")
    entry_id: uuid.UUID = Field(description="the entry created or updated (a new entry's id if it is applied)")
    project_id: str | None
    project_title: str
    status: str = Field(description="the entry's status afterwards: draft | published | withdrawn")
    changed: list[str] = Field(description="the fields an update changes")
    matched_by: str | None = Field(description="how an existing entry was found: project_id | natural key")


class DatasetMatchOut(Out):
    name: str = Field(description="the dataset name as the file writes it")
    rows: list[int]
    kind: str = Field(description="url | exact | fuzzy | none")
    dataset_id: uuid.UUID | None
    title: str | None = Field(description="the catalogue dataset's title")
    score: float = Field(description="similarity 0-100 (100 for exact and URL matches)")
    linked: bool = Field(description="whether entries link to the catalogue dataset")
    confirm: str | None = Field(description="for a fuzzy match: the value to send in confirm to link it")


class UploadOut(Out):
    filename: str
    format: str = Field(description="csv | xlsx")
    sha256: str
    applied: bool = Field(description="false for a dry run: nothing was written")
    publish: bool
    counts: dict[str, int] = Field(description="rows, created, updated, unchanged, published, datasets linked")
    notes: list[str] = Field(description="what the reader decided (an encoding it guessed)")
    upload_id: uuid.UUID | None
    rows: list[UploadRowOut]
    matches: list[DatasetMatchOut]

    @classmethod
    def of(cls, r: uploads.Result) -> UploadOut:
        return cls(filename=r.filename, format=r.format, sha256=r.sha256, applied=r.applied, publish=r.publish,
                   counts=r.counts, notes=r.notes, upload_id=r.upload_id,
                   rows=[UploadRowOut(row=x.row, action=x.action, entry_id=x.entry_id, project_id=x.project_id,
                                      project_title=x.project_title, status=x.status, changed=x.changed,
                                      matched_by=x.matched_by) for x in r.rows],
                   matches=[DatasetMatchOut(name=m.name, rows=m.rows, kind=m.kind, dataset_id=m.dataset_id,
                                            title=m.title, score=m.score, linked=m.linked,
                                            confirm=m.token if m.kind == "fuzzy" else None) for m in r.matches])


def limits(request: Request) -> T.Limits:
    s = request.app.state.settings
    return T.Limits(max_rows=s.register_upload_max_rows, max_bytes=s.register_upload_max_bytes,
                    max_unpacked_bytes=s.register_upload_max_unpacked_bytes)


def read_limited(file: UploadFile, limit: int) -> bytes:
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge("the file is too large", [FieldError("file", f"the limit is {limit:,} bytes")])
    return data


@router.post("/teams/{team_ref}/data-uses/upload", response_model=UploadOut, operation_id="uploadRegisterFile",
             responses=problems(401, 403, 404, 413, 415, 422))
def upload_register(
    ctx: WriterContextDep, request: Request, team_ref: TeamRef,
    file: Annotated[UploadFile, File(description="the register: HDR UK's data use template as XLSX, or CSV")],
    dry_run: Annotated[bool, Form(description="check and preview only; write nothing")] = True,
    publish: Annotated[bool, Form(description="publish new entries (and drafts the file updates) at once")] = True,
    confirm: Annotated[list[str] | None, Form(description="fuzzy dataset matches to link, as each match's "
                                                          "confirm value")] = None,
) -> UploadOut:
    """Upload a custodian's data use register (register managers of the team). Every row is checked and every
    problem answered by row and column (422, nothing written); dataset names are matched to the catalogue; with
    ``dry_run=false`` the whole file is applied at once, updating entries by project id."""
    lim = limits(request)
    data = read_limited(file, lim.max_bytes)
    team = identity.resolve_team(ctx, team_ref)
    result = uploads.upload(ctx, team.id, file.filename or "upload", data, limits=lim, dry_run=dry_run,
                            publish=publish, confirm=confirm or ())
    return UploadOut.of(result)
