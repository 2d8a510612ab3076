"""JSON API for the question bank, custodian templates, an application's form and its attachments.
Parse, call the service, shape the answer; no SQL here."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile

from healthgate.access import attachments, forms, storage, templates
from healthgate.access import bank as qbank
from healthgate.access import service as access
from healthgate.access.form_schemas import (
    AttachmentOut,
    BankChangeOut,
    BankOut,
    BankVersionOut,
    FormOut,
    FormQuestionOut,
    FormSectionOut,
    MissingOut,
    NewQuestionIn,
    QuestionChangesIn,
    TeamTemplatesOut,
    TemplateIn,
    TemplateOut,
)
from healthgate.errors import FieldError, TooLarge
from healthgate.identity import service as identity
from healthgate.web.deps import ContextDep, WriterContextDep, get_actor
from healthgate.web.openapi import OPTIONAL_AUTH, problems

router = APIRouter(prefix="/api/v1", tags=["access"], dependencies=[Depends(get_actor)])
ApplicationId = Annotated[uuid.UUID, Path(description="the application's id")]
AttachmentId = Annotated[uuid.UUID, Path(description="the attachment's id")]
QuestionId = Annotated[str, Path(min_length=1, max_length=200, description="a question's stable id")]
TeamRef = Annotated[str, Path(min_length=1, max_length=300, description="the team's id, slug or name")]
WRITE_ERRORS = (401, 403, 404, 409, 422)


def store(request: Request) -> storage.Storage:
    """The attachment storage the settings choose, made once per application."""
    made = getattr(request.app.state, "attachment_storage", None)
    if made is None:
        made = storage.from_settings(request.app.state.settings)
        request.app.state.attachment_storage = made
    return made


# -- the question bank ---------------------------------------------------------------------------------------


@router.get("/access/question-bank", response_model=BankOut, operation_id="getQuestionBank",
            openapi_extra=OPTIONAL_AUTH, responses=problems(404, 422))
def get_bank(ctx: ContextDep, version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> BankOut:
    """The question bank (the current version, or ``version``), grouped by the Five Safes."""
    return BankOut.of(qbank.get(ctx, version))


@router.get("/access/question-bank/versions", response_model=list[BankVersionOut],
            operation_id="listQuestionBankVersions", openapi_extra=OPTIONAL_AUTH, responses=problems())
def bank_versions(ctx: ContextDep) -> list[BankVersionOut]:
    return [BankVersionOut.of(v) for v in qbank.versions(ctx)]


@router.post("/access/question-bank/questions", status_code=201, response_model=BankChangeOut,
             operation_id="addBankQuestion", responses=problems(*WRITE_ERRORS, body=True))
def add_question(ctx: WriterContextDep, body: NewQuestionIn) -> BankChangeOut:
    """Add a question (an alliance admin): a new bank version."""
    b, added = qbank.add_question(ctx, body.section, body.subsection, body.model_dump(
        include={"title", "component", "guidance", "required", "options"}), parent=body.parent, option=body.option,
        expected_version=body.expected_version)
    return BankChangeOut(version=b.version, question_id=added)


@router.patch("/access/question-bank/questions/{question_id}", response_model=BankChangeOut,
              operation_id="editBankQuestion", responses=problems(*WRITE_ERRORS, body=True))
def edit_question(ctx: WriterContextDep, question_id: QuestionId, body: QuestionChangesIn) -> BankChangeOut:
    """Change a question (an alliance admin): a new bank version; the id stays."""
    b = qbank.edit_question(ctx, question_id, body.changes(), expected_version=body.expected_version)
    return BankChangeOut(version=b.version, question_id=question_id)


@router.delete("/access/question-bank/questions/{question_id}", response_model=BankChangeOut,
               operation_id="retireBankQuestion", responses=problems(*WRITE_ERRORS))
def retire_question(ctx: WriterContextDep, question_id: QuestionId,
                    expected_version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> BankChangeOut:
    """Retire a question (an alliance admin): new templates cannot choose it; existing ones keep it."""
    b = qbank.retire_question(ctx, question_id, expected_version=expected_version)
    return BankChangeOut(version=b.version, question_id=question_id)


# -- custodian templates ---------------------------------------------------------------------------------------


def _team_templates(ctx: Any, team_id: uuid.UUID) -> TeamTemplatesOut:
    rows = templates.history(ctx, team_id)
    draft = next((r for r in rows if r.status == "draft"), None)
    published = next((r for r in rows if r.status == "published"), None)
    return TeamTemplatesOut(team_id=team_id, current=templates.current(ctx, team_id).ref,
                            draft=TemplateOut.of(draft) if draft else None,
                            published=TemplateOut.of(published) if published else None,
                            versions=[TemplateOut.of(r) for r in rows])


@router.get("/teams/{team}/access/template", response_model=TeamTemplatesOut, operation_id="getTeamTemplate",
            responses=problems(401, 403, 404))
def get_template(ctx: WriterContextDep, team: TeamRef) -> TeamTemplatesOut:
    """A custodian team's application form: its draft, its published version and every version (the team's
    access managers and reviewers)."""
    return _team_templates(ctx, identity.resolve_team(ctx, team).id)


@router.put("/teams/{team}/access/template", response_model=TemplateOut, operation_id="saveTeamTemplate",
            responses=problems(*WRITE_ERRORS, body=True))
def save_template(ctx: WriterContextDep, team: TeamRef, body: TemplateIn) -> TemplateOut:
    """Replace the team's draft form (application:manage): questions of the current bank, required or not,
    the team's guidance, and follow-ups (``show_if``)."""
    team_id = identity.resolve_team(ctx, team).id
    row = templates.save_draft(ctx, team_id, [i.model_dump() for i in body.questions])
    return TemplateOut.of(row)


@router.post("/teams/{team}/access/template/publish", response_model=TemplateOut,
             operation_id="publishTeamTemplate", responses=problems(*WRITE_ERRORS))
def publish_template(ctx: WriterContextDep, team: TeamRef) -> TemplateOut:
    """Publish the draft: new applications get it; applications already started keep the version they have."""
    return TemplateOut.of(templates.publish(ctx, identity.resolve_team(ctx, team).id))


# -- an application's form and attachments ---------------------------------------------------------------------


@router.get("/applications/{application_id}/form", response_model=FormOut, operation_id="getApplicationForm",
            responses=problems(401, 404))
def application_form(ctx: WriterContextDep, application_id: ApplicationId) -> FormOut:
    """The application's form: every question its custodians' templates ask (once each), by Five Safes section,
    with the current answers and what is still missing."""
    view = access.get(ctx, application_id)
    form = forms.form_for(ctx, view.state)
    missing = forms.missing_answers(ctx, view.state)
    return FormOut(application_id=application_id, version=view.state.version, templates=dict(view.state.templates),
                   sections=[FormSectionOut(key=s.key, title=s.title, description=s.description,
                                            questions=[FormQuestionOut.of(q) for q in s.questions])
                             for s in form.sections],
                   missing=[MissingOut(path=e.path, message=e.message) for e in missing])


def _limit(request: Request) -> int:
    return int(request.app.state.settings.attachment_max_bytes)


@router.post("/applications/{application_id}/attachments", status_code=201, response_model=AttachmentOut,
             operation_id="addAttachment", responses=problems(*WRITE_ERRORS, 413, 415))
def add_attachment(
    ctx: WriterContextDep, request: Request, application_id: ApplicationId,
    file: Annotated[UploadFile, File(description="PDF, DOCX, XLSX, ODT, CSV, TXT, PNG or JPEG")],
    question_id: Annotated[str | None, Form(max_length=200)] = None,
) -> AttachmentOut:
    """Attach a file (the applicant side, while the application is a draft or returned). Its type is checked
    by its content; at most HEALTHGATE_ATTACHMENT_MAX_BYTES."""
    limit = _limit(request)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge("file too large", [FieldError("file", f"the limit is {limit} bytes")])
    row = attachments.add(ctx, store(request), application_id, file.filename or "file", data,
                          question_id=question_id or None, max_bytes=limit)
    return AttachmentOut.of(row)


@router.get("/applications/{application_id}/attachments", response_model=list[AttachmentOut],
            operation_id="listAttachments", responses=problems(401, 404))
def list_attachments(ctx: WriterContextDep, application_id: ApplicationId) -> list[AttachmentOut]:
    return [AttachmentOut.of(r) for r in attachments.list_for(ctx, application_id)]


@router.get("/applications/{application_id}/attachments/{attachment_id}", operation_id="downloadAttachment",
            response_class=Response, responses={**problems(401, 404),
                                                200: {"description": "The file", "content": {
                                                    "application/octet-stream": {"schema": {
                                                        "type": "string", "format": "binary"}}}}})
def download_attachment(ctx: WriterContextDep, request: Request, application_id: ApplicationId,
                        attachment_id: AttachmentId) -> Response:
    got = attachments.download(ctx, store(request), application_id, attachment_id)
    return file_response(got)


def file_response(got: attachments.Download) -> Response:
    name = got.row.filename
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
    return Response(got.data, media_type=got.row.content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@router.delete("/applications/{application_id}/attachments/{attachment_id}", status_code=204,
               operation_id="deleteAttachment", responses=problems(401, 404, 409))
def delete_attachment(ctx: WriterContextDep, request: Request, application_id: ApplicationId,
                      attachment_id: AttachmentId) -> Response:
    attachments.delete(ctx, store(request), application_id, attachment_id)
    return Response(status_code=204)

