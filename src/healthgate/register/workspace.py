"""The custodian's data use register in the workspace (``/workspace/teams/{team}/data-uses``): the list with a
status filter and the drafts waiting from approved applications, a new entry, the edit form (every field of the
register standard, grouped by the Five Safes), a preview exactly as the public will see the entry, and publish /
withdraw. No SQL here: every read and write goes through ``register.service``, which checks permissions.

Forms work without JavaScript: repeatable rows (datasets, applicants, outputs) always offer two empty rows more,
and "Save" keeps what was typed when something is refused (422, each error by its field). Every write carries
the ``row_version`` the form was read at: a stale one is answered 409 with the entry as it is now."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity import organisations
from healthgate.identity import service as identity
from healthgate.identity.models import Organisation, Team
from healthgate.register import activity_reads as reads
from healthgate.register import fields as F
from healthgate.register import service as register
from healthgate.register.indexing import catalogue_titles
from healthgate.web.deps import WriterContextDep
from healthgate.web.posted import Posted, PostedDep
from healthgate.web.templates import render, site_url

router = APIRouter(prefix="/workspace", include_in_schema=False)

GROUPS = ("Safe People", "Safe Project", "Safe Data", "Safe Setting", "Safe Outputs")
FILTERS = {"": "All", "draft": "Drafts", "published": "Published", "withdrawn": "Withdrawn"}
STATUS_LABELS = {"draft": "draft", "published": "published", "withdrawn": "withdrawn"}
ORIGIN_LABELS = {"application": "from an approved application", "upload": "uploaded", "manual": "typed in"}
SPARE_ROWS = 2
MAX_ROWS = 200
DONE = {"created": "The draft entry was created. It is not public until you publish it.",
        "saved": "Saved.", "published": "Published: the entry is on the public register.",
        "withdrawn": "Withdrawn: the entry is off the public register."}


def _base(team: Team) -> str:
    return f"/workspace/teams/{team.slug}/data-uses"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _entry_of_team(ctx: Context, team: Team, entry_id: uuid.UUID) -> register.EntryView:
    v = register.view(ctx, entry_id)
    if v.entry.team_id != team.id or not v.manager:
        raise NotFound("no such entry in this team's register")
    return v


# ---- the form's values ------------------------------------------------------------------------------------


def _values_of(data: register.EntryData | None) -> dict[str, Any]:
    """What the form shows: scalars as text, lists as rows (with spare empty rows)."""
    if data is None:
        values: dict[str, Any] = {f.name: "" for f in F.FIELDS if f.kind != "list"}
        values |= {"datasets": [], "applicants": [], "outputs": [], "funders": ""}
    else:
        raw = asdict(data)
        values = {name: "" if raw[name] is None else (raw[name].isoformat() if isinstance(raw[name], date)
                                                      else str(raw[name])) for name in register.SCALARS}
        values["datasets"] = [{"name": d.name, "dataset_id": str(d.dataset_id or "")} for d in data.datasets]
        values["applicants"] = [{"name": a.name, "orcid": a.orcid or ""} for a in data.applicants]
        values["outputs"] = [{"url": o.url, "title": o.title or ""} for o in data.outputs]
        values["funders"] = "\n".join(data.funders)
    return _spare(values)


def _spare(values: dict[str, Any]) -> dict[str, Any]:
    values["datasets"] = values["datasets"] + [{"name": "", "dataset_id": ""}] * SPARE_ROWS
    values["applicants"] = values["applicants"] + [{"name": "", "orcid": ""}] * SPARE_ROWS
    values["outputs"] = values["outputs"] + [{"url": "", "title": ""}] * SPARE_ROWS
    return values


def _rows(posted: Posted, prefix: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    columns = {k: posted.fields.get(f"{prefix}_{k}", []) for k in keys}
    count = min(max((len(v) for v in columns.values()), default=0), MAX_ROWS + SPARE_ROWS)
    rows = [{k: (columns[k][i].strip() if i < len(columns[k]) else "") for k in keys} for i in range(count)]
    return [r for r in rows if any(r.values())]


def _posted_values(posted: Posted) -> dict[str, Any]:
    values: dict[str, Any] = {f.name: posted.one(f.name) for f in F.FIELDS if f.kind != "list"}
    values["datasets"] = _rows(posted, "dataset", ("name", "dataset_id"))
    values["applicants"] = _rows(posted, "applicant", ("name", "orcid"))
    values["outputs"] = _rows(posted, "output", ("url", "title"))
    values["funders"] = posted.one("funders")
    return values


def _data_of(values: dict[str, Any], choices: dict[str, str]) -> register.EntryData:
    """The posted form as ``EntryData``; a date that is not one, or an unknown dataset, is refused by field."""
    errors: list[FieldError] = []
    scalars: dict[str, Any] = {}
    for f in F.FIELDS:
        if f.kind == "list":
            continue
        text = str(values.get(f.name) or "").strip()
        if f.kind == "date" and text:
            try:
                scalars[f.name] = date.fromisoformat(text)
            except ValueError:
                errors.append(FieldError(f.name, f"{f.label} must be a date (YYYY-MM-DD)"))
                scalars[f.name] = None
        else:
            scalars[f.name] = text or None
    datasets = []
    for i, row in enumerate(values["datasets"]):
        picked = row["dataset_id"]
        if picked and picked not in choices:
            errors.append(FieldError(f"datasets[{i}]", "choose a dataset of the list, or none"))
            continue
        name = row["name"] or (choices.get(picked, "") if picked else "")
        datasets.append(register.DatasetRef(name, uuid.UUID(picked) if picked else None))
    if len(values["datasets"]) > MAX_ROWS:
        errors.append(FieldError("datasets", f"at most {MAX_ROWS} datasets"))
    applicants = []
    for i, row in enumerate(values["applicants"]):
        if not row["name"]:
            errors.append(FieldError(f"applicants[{i}].name", "give the applicant's name (or clear the ORCID iD)"))
        applicants.append(register.Applicant(row["name"], row["orcid"] or None))
    outputs = [register.output_of(r["url"], r["title"] or None) for r in values["outputs"] if r["url"]]
    outputs_without_url = [i for i, r in enumerate(values["outputs"]) if not r["url"]]
    errors += [FieldError(f"outputs[{i}].url", "give the output's link or DOI") for i in outputs_without_url]
    funders = [line.strip() for line in str(values["funders"]).splitlines() if line.strip()]
    data = register.EntryData(**scalars, datasets=datasets, applicants=applicants, outputs=outputs, funders=funders)
    if errors:  # and whatever else the service would refuse, so that one round names every problem
        try:
            register.check(data)
        except Invalid as exc:
            named = {e.path for e in errors}
            errors += [e for e in exc.errors if e.path not in named]
        raise Invalid("some fields are not valid", errors)
    return data


# ---- pages ------------------------------------------------------------------------------------------------


def _form_context(ctx: Context, team: Team, v: register.EntryView | None) -> dict[str, Any]:
    groups = [(g, [f for f in F.FIELDS if f.group == g]) for g in GROUPS]
    linked = [d.dataset_id for d in v.data.datasets if d.dataset_id] if v else []
    return {"groups": groups, "lookups": {f.name: F.allowed(f) for f in F.FIELDS if f.lookup},
            "dataset_choices": register.dataset_choices(ctx, team.id, also=linked), "base": _base(team)}


def _errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in errors:
        key = e.path.split("[")[0].split(".")[0]
        out.setdefault(key, []).append(e.message if key == e.path else f"{e.path}: {e.message}")
    return out


def _edit_page(request: Request, ctx: Context, team: Team, v: register.EntryView | None, *,
               values: dict[str, Any] | None = None, errors: list[FieldError] | None = None, refused: str = "",
               status_code: int = 200, done: str = "", stale: bool = False) -> HTMLResponse:
    template = "register/workspace_edit.html" if v else "register/workspace_new.html"
    response = render(request, template, status_code=status_code, team=team, view=v,
                      values=values or _values_of(v.data if v else None), errors=_errors_by_field(errors or []),
                      error_list=errors or [], refused=refused, done=DONE.get(done, ""), stale=stale,
                      labels={f.name: f.label for f in F.FIELDS}, status_labels=STATUS_LABELS,
                      origin_labels=ORIGIN_LABELS, complete=register.is_complete(v.entry) if v else False,
                      **_form_context(ctx, team, v))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/teams/{team_ref}/data-uses", response_class=HTMLResponse)
def list_page(request: Request, team_ref: str, ctx: WriterContextDep, status: str = "") -> HTMLResponse:
    """The team's register, newest approval first, filtered by status; drafts from approved applications
    waiting for review are listed first and flagged."""
    team = identity.resolve_team(ctx, team_ref)
    if status not in FILTERS:
        raise Invalid("unknown filter", [FieldError("status", f"one of {', '.join(k for k in FILTERS if k)}")])
    every = register.team_entries(ctx, team.id)
    counts = {key: sum(1 for e in every if not key or e.status == key) for key in FILTERS}
    shown = [e for e in every if not status or e.status == status]
    waiting = [e for e in every if e.origin == "application" and e.status == register.DRAFT]
    response = render(request, "register/workspace_list.html", team=team, rows=shown, waiting=waiting,
                      counts=counts, filters=FILTERS, current=status, status_labels=STATUS_LABELS,
                      origin_labels=ORIGIN_LABELS, complete={e.id: register.is_complete(e) for e in every},
                      base=_base(team))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/teams/{team_ref}/data-uses/new", response_class=HTMLResponse)
def new_page(request: Request, team_ref: str, ctx: WriterContextDep) -> HTMLResponse:
    team = identity.resolve_team(ctx, team_ref)
    register.require_manager(ctx, team.id)
    return _edit_page(request, ctx, team, None)


@router.post("/teams/{team_ref}/data-uses/new", response_class=HTMLResponse)
def create(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = identity.resolve_team(ctx, team_ref)
    values = _posted_values(posted)
    try:
        entry = register.create(ctx, team.id, _data_of(values, register.dataset_choices(ctx, team.id)))
    except (Invalid, Conflict) as exc:
        code = 409 if isinstance(exc, Conflict) else 422
        return _edit_page(request, ctx, team, None, values=_spare(values), errors=exc.errors, refused=exc.detail,
                          status_code=code)
    return _see_other(f"{_base(team)}/{entry.id}?done=created")


@router.get("/teams/{team_ref}/data-uses/{entry_id:uuid}", response_class=HTMLResponse)
def edit_page(request: Request, team_ref: str, entry_id: uuid.UUID, ctx: WriterContextDep,
              done: str = "") -> HTMLResponse:
    team = identity.resolve_team(ctx, team_ref)
    return _edit_page(request, ctx, team, _entry_of_team(ctx, team, entry_id), done=done)


def _read_version(posted: Posted) -> int:
    read = posted.one("row_version")
    if not read.isdigit() or len(read) > 9:
        raise Invalid("the form did not say which version it read", [FieldError("row_version", "reload the page")])
    return int(read)


@router.post("/teams/{team_ref}/data-uses/{entry_id:uuid}", response_class=HTMLResponse)
def save(request: Request, team_ref: str, entry_id: uuid.UUID, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = identity.resolve_team(ctx, team_ref)
    v = _entry_of_team(ctx, team, entry_id)
    values = _posted_values(posted)
    try:
        linked = [d.dataset_id for d in v.data.datasets if d.dataset_id]
        register.update(ctx, entry_id, _data_of(values, register.dataset_choices(ctx, team.id, also=linked)),
                        expected_version=_read_version(posted))
    except Conflict as exc:
        stale = any(e.path == "row_version" for e in exc.errors)
        return _edit_page(request, ctx, team, _entry_of_team(ctx, team, entry_id) if stale else v,
                          values=None if stale else _spare(values), errors=[] if stale else exc.errors,
                          refused=exc.detail, status_code=409, stale=stale)
    except Invalid as exc:
        return _edit_page(request, ctx, team, v, values=_spare(values), errors=exc.errors, refused=exc.detail,
                          status_code=422)
    return _see_other(f"{_base(team)}/{entry_id}?done=saved")


def _status_change(request: Request, team_ref: str, entry_id: uuid.UUID, ctx: Context, posted: Posted,
                   action: str) -> Any:
    team = identity.resolve_team(ctx, team_ref)
    v = _entry_of_team(ctx, team, entry_id)
    op = register.publish if action == "published" else register.withdraw
    try:
        op(ctx, entry_id, expected_version=_read_version(posted))
    except Conflict as exc:
        stale = any(e.path == "row_version" for e in exc.errors)
        return _edit_page(request, ctx, team, _entry_of_team(ctx, team, entry_id), refused=exc.detail,
                          status_code=409, stale=stale)
    except Invalid as exc:
        return _edit_page(request, ctx, team, v, errors=exc.errors, refused=exc.detail, status_code=422)
    return _see_other(f"{_base(team)}/{entry_id}?done={action}")


@router.post("/teams/{team_ref}/data-uses/{entry_id:uuid}/publish", response_class=HTMLResponse)
def publish(request: Request, team_ref: str, entry_id: uuid.UUID, ctx: WriterContextDep, posted: PostedDep) -> Any:
    return _status_change(request, team_ref, entry_id, ctx, posted, "published")


@router.post("/teams/{team_ref}/data-uses/{entry_id:uuid}/withdraw", response_class=HTMLResponse)
def withdraw(request: Request, team_ref: str, entry_id: uuid.UUID, ctx: WriterContextDep, posted: PostedDep) -> Any:
    return _status_change(request, team_ref, entry_id, ctx, posted, "withdrawn")


def _as_public(ctx: Context, v: register.EntryView) -> reads.PublicEntry:
    """What the public entry page (``register/public_entry.html``) is given for this entry, whatever its status:
    the same shape ``activity_reads.public_entry`` builds for a published one."""
    entry, data = v.entry, v.data
    org = None
    if entry.organisation_id:
        found = ctx.session.get(Organisation, entry.organisation_id)
        org = organisations.current(ctx, found) if found is not None else None
    titles = catalogue_titles(ctx.session, [d.dataset_id for d in data.datasets if d.dataset_id])
    used = [reads.DatasetUsed(d.name, d.dataset_id if d.dataset_id in titles else None,
                              titles.get(d.dataset_id) if d.dataset_id else None) for d in data.datasets]
    groups: list[tuple[str, list[tuple[str, Any]]]] = []
    for group in reads.GROUPS:
        rows: list[tuple[str, Any]] = [(f.label, getattr(entry, f.name)) for f in F.FIELDS
                                       if f.group == group and f.kind != "list"
                                       and f.name not in ("organisation_name", "project_title")
                                       and getattr(entry, f.name) not in (None, "")]
        if group == "Safe People" and entry.funders:
            rows.append(("Funders / sponsors", "; ".join(entry.funders)))
        groups.append((group, rows))
    return reads.PublicEntry(
        entry=entry, custodian=v.team, organisation=org,
        organisation_ror=entry.organisation_ror or (org.ror_id if org is not None else None), datasets=used,
        applicants=[{"name": a.name, "orcid": a.orcid} for a in data.applicants],
        outputs=[{"kind": o.kind, "url": o.url, "doi": o.doi, "title": o.title} for o in data.outputs],
        groups=groups)


@router.get("/teams/{team_ref}/data-uses/{entry_id:uuid}/preview", response_class=HTMLResponse)
def preview(request: Request, team_ref: str, entry_id: uuid.UUID, ctx: WriterContextDep) -> HTMLResponse:
    """The entry exactly as its public page (``/data-uses/{id}``) will show it: the public page's own template,
    under a notice saying it is a preview (and whether the entry is public yet)."""
    team = identity.resolve_team(ctx, team_ref)
    v = _entry_of_team(ctx, team, entry_id)
    found = _as_public(ctx, v)
    response = render(request, "register/workspace_preview.html", team=team, view=v, base=_base(team),
                      status_labels=STATUS_LABELS, e=found, entry=found.entry, base_url=site_url(request),
                      jsonld="")
    response.headers["Cache-Control"] = "no-store"
    return response
