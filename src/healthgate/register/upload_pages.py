"""The custodian's register upload pages: ``/workspace/teams/{team_ref}/data-uses/upload``.

Choose a file (CSV or XLSX in HDR UK's template) -> a dry run: what would be created, updated or left unchanged,
every problem by row and column, the dataset names matched to the catalogue (fuzzy matches with a box to confirm
each) -> apply. Between the two steps the file is kept in the attachment storage under a key made of the team and
the file's SHA-256 (never a name the user chose), so the apply step needs no second upload and works behind
several server processes; it is removed once applied. No SQL here: ``register.upload`` does the work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile

from healthgate.access import storage
from healthgate.access.templates_api import store
from healthgate.context import Context
from healthgate.errors import FieldError, HealthgateError, Invalid, NotFound, TooLarge
from healthgate.identity import service as identity
from healthgate.identity.models import Team
from healthgate.register import bulk
from healthgate.register import upload as uploads
from healthgate.register.upload_api import limits
from healthgate.web.deps import WriterContextDep
from healthgate.web.templates import render

router = APIRouter(prefix="/workspace", include_in_schema=False)
SHOWN_ROWS = 500  # rows listed in a preview (the counts cover them all)


@dataclass
class RegisterForm:
    fields: dict[str, list[str]]
    file: tuple[str, bytes] | None = None
    errors: list[FieldError] = field(default_factory=list)

    def one(self, name: str, default: str = "") -> str:
        got = self.fields.get(name) or []
        return got[0] if got else default


async def read_form(request: Request) -> RegisterForm:
    """The posted form and its file, at most HEALTHGATE_REGISTER_UPLOAD_MAX_BYTES (413 beyond)."""
    limit = request.app.state.settings.register_upload_max_bytes
    form = await request.form(max_files=1, max_fields=5_000, max_part_size=1024 * 1024)
    fields: dict[str, list[str]] = {}
    got: tuple[str, bytes] | None = None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if not value.filename:
                continue
            data = await value.read(limit + 1)
            if len(data) > limit:
                raise TooLarge("the file is too large", [FieldError("file", f"the limit is {limit:,} bytes")])
            got = (value.filename, data)
        else:
            fields.setdefault(name, []).append(value)
    return RegisterForm(fields, got)


FormDep = Annotated[RegisterForm, Depends(read_form)]


def _key(team: Team, sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise Invalid("not a file of this upload", [FieldError("file", "upload the file again")])
    return f"register-uploads/{team.id}/{sha256}"


def _page(request: Request, ctx: Context, team: Team, *, status_code: int = 200, result: Any = None,
          errors: list[FieldError] | None = None, title: str = "", filename: str = "", publish: bool = True
          ) -> HTMLResponse:
    return render(request, "register/upload.html", status_code=status_code, team=team, result=result,
                  errors=errors or [], title=title, filename=filename, publish=publish, shown=SHOWN_ROWS,
                  history=bulk.uploads(ctx, team.id, limit=10))


def _team(ctx: Context, team_ref: str) -> Team:
    """The team; whether the person may manage its register is the service's to say (403 otherwise)."""
    return identity.resolve_team(ctx, team_ref)


@router.get("/teams/{team_ref}/data-uses/upload", response_class=HTMLResponse)
def upload_form(request: Request, team_ref: str, ctx: WriterContextDep) -> HTMLResponse:
    return _page(request, ctx, _team(ctx, team_ref))


@router.post("/teams/{team_ref}/data-uses/upload", response_class=HTMLResponse)
def upload_preview(request: Request, team_ref: str, ctx: WriterContextDep, posted: FormDep) -> HTMLResponse:
    """The dry run: nothing is written to the register; the file is kept for the apply step."""
    team = _team(ctx, team_ref)
    uploads.may_upload(ctx, team.id)
    publish = posted.one("publish") == "on"
    if posted.file is None:
        return _page(request, ctx, team, status_code=422, title="Choose a file",
                     errors=[FieldError("file", "choose the register file (CSV or XLSX) to upload")])
    filename, data = posted.file
    try:
        result = uploads.upload(ctx, team.id, filename, data, limits=limits(request), dry_run=True,
                                publish=publish)
    except HealthgateError as exc:
        if not isinstance(exc, Invalid | TooLarge) and exc.status != 415:
            raise
        return _page(request, ctx, team, status_code=exc.status, title=exc.detail, errors=exc.errors,
                     filename=filename, publish=publish)
    store(request).put(_key(team, result.sha256), data)
    return _page(request, ctx, team, result=result, filename=filename, publish=publish)


@router.post("/teams/{team_ref}/data-uses/upload/apply", response_class=HTMLResponse)
def upload_apply(request: Request, team_ref: str, ctx: WriterContextDep, posted: FormDep) -> HTMLResponse:
    """Apply the previewed file: all or nothing, with the fuzzy matches the custodian ticked."""
    team = _team(ctx, team_ref)
    uploads.may_upload(ctx, team.id)
    key = _key(team, posted.one("sha256"))
    kept: storage.Storage = store(request)
    try:
        data = kept.get(key)
    except NotFound:
        return _page(request, ctx, team, status_code=409, title="The previewed file is no longer here",
                     errors=[FieldError("file", "upload the file again")])
    filename = posted.one("filename") or "upload"
    publish = posted.one("publish") == "on"
    try:
        result = uploads.upload(ctx, team.id, filename, data, limits=limits(request), dry_run=False,
                                publish=publish, confirm=posted.fields.get("confirm", []))
    except HealthgateError as exc:  # the register changed since the preview (a project id taken meanwhile)
        if not isinstance(exc, Invalid | TooLarge) and exc.status != 415:
            raise
        return _page(request, ctx, team, status_code=exc.status, title=exc.detail, errors=exc.errors,
                     filename=filename, publish=publish)
    kept.delete(key)
    return _page(request, ctx, team, result=result, filename=filename, publish=publish)

