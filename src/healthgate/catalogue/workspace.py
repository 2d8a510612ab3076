"""The custodian workspace: a signed-in person's teams, a team's datasets, the dataset form generated from the
HDR UK 4.0.0 schema, preview, diff, publish, archive, and uploads with a dry run. No SQL here: every action
calls the catalogue service, as the API and the CLI do. Members and tokens: ``identity.workspace``."""

from __future__ import annotations

import base64
import binascii
import tempfile
import uuid
import zlib
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthgate.catalogue import forms, metadata, quality, service
from healthgate.catalogue.diff import diff
from healthgate.catalogue.importer import ImportReport, import_items
from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion
from healthgate.catalogue.pages import SECTIONS, diff_rows
from healthgate.context import Context
from healthgate.errors import FieldError, Gone, Invalid, NotFound
from healthgate.identity import service as identity
from healthgate.identity.models import Team
from healthgate.identity.permissions import Permission, require
from healthgate.interop import dcat_report, hdruk
from healthgate.interop.sources import read_legacy_file
from healthgate.web.deps import WriterContextDep
from healthgate.web.posted import MAX_UPLOAD_BYTES, Posted, PostedDep
from healthgate.web.templates import render

router = APIRouter(prefix="/workspace", include_in_schema=False)
PER_PAGE = 50


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _team(ctx: Context, ref: str) -> Team:
    return identity.resolve_team(ctx, ref)


def _dataset(ctx: Context, raw: str) -> Dataset:
    """A dataset of the actor's team (404 for anyone else, as for an unknown id)."""
    try:
        dataset_id = uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no dataset {raw[:60]!r}") from None
    try:
        dataset = service.get_dataset(ctx, dataset_id)
    except Gone:
        dataset = None
    if dataset is None or not service.can_see_private(ctx.actor, dataset):
        raise NotFound(f"no dataset {dataset_id} in your teams")
    return dataset


def _can(ctx: Context, team_id: uuid.UUID) -> dict[str, bool]:
    a = ctx.actor
    return {"edit": a.can(Permission.DATASET_EDIT, team_id), "publish": a.can(Permission.DATASET_PUBLISH, team_id),
            "archive": a.can(Permission.DATASET_ARCHIVE, team_id), "import": a.can(Permission.DATASET_IMPORT, team_id),
            "members": a.can(Permission.TEAM_VIEW_MEMBERS, team_id), "manage": a.can(Permission.TEAM_MANAGE, team_id),
            "drafts": a.can(Permission.DATASET_VIEW_DRAFT, team_id),
            "applications": a.can(Permission.APPLICATION_REVIEW, team_id),
            "access_manage": a.can(Permission.APPLICATION_MANAGE, team_id),
            "harvest": a.can(Permission.HARVEST_MANAGE, team_id),
            "register": a.can(Permission.REGISTER_MANAGE, team_id)}


# ---- teams -----------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request, ctx: WriterContextDep) -> HTMLResponse:
    """The teams the signed-in person belongs to (every team, for an alliance admin)."""
    return render(request, "workspace/home.html", teams=service.workspace_teams(ctx), actor=ctx.actor)


@router.get("/teams/{team_ref}", response_class=HTMLResponse)
def team_page(
    request: Request, team_ref: str, ctx: WriterContextDep,
    status: Annotated[DatasetStatus | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=10**6)] = 1, done: str = "",
) -> HTMLResponse:
    team = _team(ctx, team_ref)
    total, counts, rows = service.team_datasets(ctx, team.id, status=status, page=page, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render(request, "workspace/team.html", team=team, rows=rows, total=total, counts=counts,
                  status=status.value if status else "", page=page, pages=pages, can=_can(ctx, team.id),
                  done=done)


# ---- the dataset form ------------------------------------------------------------------------------------


def _form_page(request: Request, *, team: Team, data: forms.FormData, errors: list[FieldError],
               dataset: Dataset | None, status_code: int = 200, notice: str = "", focus: str = "",
               checked: metadata.Checked | None = None) -> HTMLResponse:
    by_field = forms.errors_by_field(errors)
    return render(request, "workspace/form.html", status_code=status_code, team=team, dataset=dataset,
                  sections=forms.form(), data=forms.FormValues(data), errors=by_field, error_list=errors, notice=notice,
                  focus=focus, forms=forms, fid=forms.field_id, checked=checked, status_code_ok=status_code == 200,
                  action=f"/workspace/datasets/{dataset.id}/edit" if dataset
                  else f"/workspace/teams/{team.slug}/datasets/new")


def _envelope(doc: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": forms.SCHEMA_VERSION, "metadata": doc}


def _op(request: Request, posted: Posted, team: Team, dataset: Dataset | None) -> HTMLResponse | None:
    """An "add another" / "remove" button: the same form again, changed, nothing saved."""
    op = posted.one("op")
    if not op.startswith(("add:", "remove:")):
        return None
    data = forms.apply_op({k: v for k, v in posted.fields.items() if k not in ("op", "csrf_token")}, op)
    focus = ""
    if op.startswith("add:"):
        target = op[4:]
        focus = f"{target}[{forms.item_indices(data, target)[-1]}]"
    return _form_page(request, team=team, data=data, errors=[], dataset=dataset, focus=focus,
                      notice="Not saved yet: save the draft to keep your changes.")


@router.get("/teams/{team_ref}/datasets/new", response_class=HTMLResponse)
def new_dataset(request: Request, team_ref: str, ctx: WriterContextDep) -> HTMLResponse:
    team = _team(ctx, team_ref)
    require(ctx.actor, Permission.DATASET_EDIT, on=team.id)
    blank = forms.blank_document(str(uuid.uuid4()), ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
    blank["summary"] = {"dataCustodian": {"name": team.name, "identifier": team.slug}}
    return _form_page(request, team=team, data=forms.values(blank), errors=[], dataset=None)


@router.post("/teams/{team_ref}/datasets/new", response_class=HTMLResponse)
def create_dataset(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = _team(ctx, team_ref)
    require(ctx.actor, Permission.DATASET_EDIT, on=team.id)
    changed = _op(request, posted, team, None)
    if changed is not None:
        return changed
    doc = forms.parse(posted.fields)
    try:
        dataset, _ = service.create_draft(ctx, team.id, _envelope(doc),
                                          max_bytes=request.app.state.settings.max_document_bytes)
    except Invalid as exc:
        return _form_page(request, team=team, data=posted.fields, errors=exc.errors, dataset=None, status_code=422,
                          notice="Not saved: " + exc.detail + ".")
    return _see_other(f"/workspace/datasets/{dataset.id}/edit?saved=1")


@router.get("/datasets/{dataset_id}/edit", response_class=HTMLResponse)
def edit_dataset(request: Request, dataset_id: str, ctx: WriterContextDep, saved: int = 0) -> HTMLResponse:
    dataset = _dataset(ctx, dataset_id)
    require(ctx.actor, Permission.DATASET_EDIT, on=dataset)
    if dataset.draft is not None:
        checked = metadata.check(dataset.draft)
        notice = "Draft saved." if saved else ""
        if checked.schema_version != forms.SCHEMA_VERSION:
            notice += (f" This draft is in HDR UK {checked.schema_version}; the form shows it in 4.0.0, and saving "
                       "stores it in 4.0.0.")
        errors = checked.canonical_errors
        data = forms.values(checked.canonical)
    elif dataset.latest_version:
        latest = service.get_version(ctx.session, dataset.id, dataset.latest_version)
        checked = None
        errors = []
        data = forms.values(latest.document)
        notice = f"No draft yet: saving starts one from version {latest.number}."
    else:  # a draft discarded before it was ever published: start again under the same persistent id
        checked, errors, notice = None, [], ""
        data = forms.values(forms.blank_document(str(dataset.id), ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")))
    return _form_page(request, team=dataset.team, data=data, errors=errors, dataset=dataset, notice=notice.strip(),
                      checked=checked)


@router.post("/datasets/{dataset_id}/edit", response_class=HTMLResponse)
def save_dataset(request: Request, dataset_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    dataset = _dataset(ctx, dataset_id)
    require(ctx.actor, Permission.DATASET_EDIT, on=dataset)
    changed = _op(request, posted, dataset.team, dataset)
    if changed is not None:
        return changed
    doc = forms.parse(posted.fields)
    seen = posted.one("row_version")
    try:
        service.update_draft(ctx, dataset.id, _envelope(doc), expected_row_version=int(seen) if seen.isdigit() else None,
                             max_bytes=request.app.state.settings.max_document_bytes)
    except Invalid as exc:
        return _form_page(request, team=dataset.team, data=posted.fields, errors=exc.errors, dataset=dataset,
                          status_code=422, notice="Not saved: " + exc.detail + ".")
    return _see_other(f"/workspace/datasets/{dataset.id}/edit?saved=1")


# ---- a dataset: overview, preview, diff, publish, archive ------------------------------------------------------


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(request: Request, dataset_id: str, ctx: WriterContextDep, done: str = "") -> HTMLResponse:
    dataset = _dataset(ctx, dataset_id)
    checked = metadata.check(dataset.draft) if dataset.draft is not None else None
    versions = service.versions(ctx, dataset.id)
    return render(request, "workspace/dataset.html", dataset=dataset, checked=checked, versions=versions,
                  title=_title(dataset, checked, versions), can=_can(ctx, dataset.team_id), done=done,
                  quality=quality.assess(checked.canonical, checked.canonical_errors) if checked else None,
                  errors=[], forms=forms, **_dcat(checked, versions))


def _dcat(checked: metadata.Checked | None, versions: list[DatasetVersion]) -> dict[str, Any]:
    """The DCAT-AP check of the draft and of the latest version, shown beside their quality (interop)."""
    return {"dcat_draft": dcat_report.check(checked.canonical) if checked else None,
            "dcat_latest": dcat_report.check(versions[0].document) if versions else None}


def _title(dataset: Dataset, checked: metadata.Checked | None, versions: list[DatasetVersion]) -> str:
    if checked is not None and checked.extracted.title:
        return checked.extracted.title
    return versions[0].title if versions else "(untitled)"


class _Preview:
    """What the public page template needs to know of a record, for a draft that is not public yet."""

    archived = False
    team_view = True


@router.get("/datasets/{dataset_id}/preview", response_class=HTMLResponse)
def preview(request: Request, dataset_id: str, ctx: WriterContextDep) -> HTMLResponse:
    """The draft as its public page would show it once published (never indexed, never cached)."""
    dataset = _dataset(ctx, dataset_id)
    if dataset.draft is None:
        raise NotFound("there is no draft to preview", [FieldError("draft", "edit the dataset to start a draft")])
    checked = metadata.check(dataset.draft)
    row = service.version_row(dataset.id, dataset.team, dataset.latest_version + 1, checked, ctx.actor, ctx.now())
    draft = DatasetVersion(**row)  # never added to the session: nothing is written
    published = service.versions(ctx, dataset.id)
    report = quality.assess(checked.canonical, checked.canonical_errors)
    page = render(request, "workspace/preview.html", dataset=dataset, v=draft, latest=draft, record=_Preview(),
                  sections=SECTIONS, versions=[draft, *published], quality=report, can_edit=True, base_url="",
                  jsonld=None, similar=[])
    page.headers["Cache-Control"] = "no-store"
    return page


@router.get("/datasets/{dataset_id}/diff", response_class=HTMLResponse)
def draft_diff(request: Request, dataset_id: str, ctx: WriterContextDep) -> HTMLResponse:
    """What publishing the draft would change, field by field, against the latest published version."""
    dataset = _dataset(ctx, dataset_id)
    if dataset.draft is None:
        raise NotFound("there is no draft to compare", [FieldError("draft", "edit the dataset to start a draft")])
    checked = metadata.check(dataset.draft)
    latest = service.get_version(ctx.session, dataset.id, dataset.latest_version) if dataset.latest_version else None
    changes = diff(latest.document if latest else {}, checked.canonical)
    return render(request, "workspace/diff.html", dataset=dataset, latest=latest, rows=diff_rows(changes),
                  title=checked.extracted.title or "(untitled)")


def _action(request: Request, ctx: Context, dataset: Dataset, posted: Posted, name: str) -> Any:
    try:
        if name == "publish":
            seen = posted.one("row_version")
            service.publish(ctx, dataset.id, accept_invalid=posted.one("accept_invalid") == "1",
                            expected_row_version=int(seen) if seen.isdigit() else None)
        elif name == "archive":
            service.archive(ctx, dataset.id)
        elif name == "unarchive":
            service.unarchive(ctx, dataset.id)
        else:
            service.discard_draft(ctx, dataset.id)
    except Invalid as exc:
        checked = metadata.check(dataset.draft) if dataset.draft is not None else None
        versions = service.versions(ctx, dataset.id)
        return render(request, "workspace/dataset.html", status_code=422, dataset=dataset, checked=checked,
                      versions=versions, title=_title(dataset, checked, versions), can=_can(ctx, dataset.team_id),
                      done="", errors=exc.errors, refused=exc.detail, forms=forms,
                      quality=quality.assess(checked.canonical, checked.canonical_errors) if checked else None,
                      **_dcat(checked, versions))
    return _see_other(f"/workspace/datasets/{dataset.id}?done={name}")


@router.post("/datasets/{dataset_id}/publish", response_class=HTMLResponse)
def publish(request: Request, dataset_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    return _action(request, ctx, _dataset(ctx, dataset_id), posted, "publish")


@router.post("/datasets/{dataset_id}/archive", response_class=HTMLResponse)
def archive(request: Request, dataset_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    return _action(request, ctx, _dataset(ctx, dataset_id), posted, "archive")


@router.post("/datasets/{dataset_id}/unarchive", response_class=HTMLResponse)
def unarchive(request: Request, dataset_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    return _action(request, ctx, _dataset(ctx, dataset_id), posted, "unarchive")


@router.post("/datasets/{dataset_id}/discard", response_class=HTMLResponse)
def discard(request: Request, dataset_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    return _action(request, ctx, _dataset(ctx, dataset_id), posted, "discard")


# ---- uploads: HDR UK JSON or the legacy gateway CSV, with a dry run first -----------------------------------


def _read_upload(filename: str, raw: bytes) -> tuple[list[Any], list[FieldError]]:
    """The import items of an uploaded file, read by the same readers as ``healthgate import``; sources name
    the file as uploaded, never a server path."""
    name = Path(filename).name or "upload"
    suffix = Path(name).suffix.lower()
    if suffix not in (".json", ".csv"):
        return [], [FieldError(name, "upload an HDR UK .json file or the gateway's .csv export")]
    with tempfile.TemporaryDirectory(prefix="healthgate-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(raw)
        items, errors = read_legacy_file(path) if suffix == ".csv" else hdruk.read_file(path)
        prefix = str(path)
        for item in items:
            item.source = item.source.replace(prefix, name)
        errors = [FieldError(e.path.replace(prefix, name), e.message) for e in errors]
    return items, errors


def _pack(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, 6)).decode()


def _unpack(text: str) -> bytes:
    try:
        raw = zlib.decompressobj().decompress(base64.b64decode(text, validate=True), MAX_UPLOAD_BYTES + 1)
    except (binascii.Error, zlib.error, ValueError):
        raw = b""
    if not raw or len(raw) > MAX_UPLOAD_BYTES:
        raise Invalid("the upload could not be read back", [FieldError("file", "upload the file again")])
    return raw


def _import(request: Request, ctx: Context, team: Team, filename: str, raw: bytes, *, dry_run: bool) -> ImportReport:
    items, read_errors = _read_upload(filename, raw)
    if read_errors or not items:
        return ImportReport(failed=len(read_errors) or 1, dry_run=dry_run,
                            errors=read_errors or [FieldError(filename, "the file holds no datasets")])
    return import_items(ctx, items, team=team.name, dry_run=dry_run, accept_invalid=False,
                        max_bytes=request.app.state.settings.max_document_bytes)


@router.get("/teams/{team_ref}/upload", response_class=HTMLResponse)
def upload_form(request: Request, team_ref: str, ctx: WriterContextDep) -> HTMLResponse:
    team = _team(ctx, team_ref)
    return render(request, "workspace/upload.html", team=team, report=None, can=_can(ctx, team.id))


@router.post("/teams/{team_ref}/upload", response_class=HTMLResponse)
def upload(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> HTMLResponse:
    """Step one: everything a real import does, then undone. Nothing is written; the page shows what would be
    created, updated or refused, and carries the file on to step two."""
    team = _team(ctx, team_ref)
    require(ctx.actor, Permission.DATASET_IMPORT, on=team.id)  # an upload publishes: say so before reading it
    if "file" not in posted.files or not posted.files["file"][1]:
        raise Invalid("choose a file", [FieldError("file", "choose an HDR UK .json file or a gateway .csv export")])
    filename, raw = posted.files["file"]
    report = _import(request, ctx, team, filename, raw, dry_run=True)
    return render(request, "workspace/upload.html", status_code=200 if not report.failed else 422, team=team,
                  report=report, filename=Path(filename).name, packed=_pack(raw), can=_can(ctx, team.id))


@router.post("/teams/{team_ref}/upload/confirm", response_class=HTMLResponse)
def upload_confirm(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> HTMLResponse:
    """Step two: the same file, imported for real (all or nothing: a refused record writes nothing)."""
    team = _team(ctx, team_ref)
    require(ctx.actor, Permission.DATASET_IMPORT, on=team.id)
    filename = Path(posted.one("filename") or "upload").name
    raw = _unpack(posted.one("content"))
    report = _import(request, ctx, team, filename, raw, dry_run=False)
    return render(request, "workspace/upload.html", status_code=200 if report.written else 422, team=team,
                  report=report, filename=filename, packed=_pack(raw) if not report.written else "",
                  can=_can(ctx, team.id))
