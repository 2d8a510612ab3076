"""Workspace pages of harvest sources: a team's sources (add), one source (edit, run now, job history, remove),
a job's per-item report; ``/workspace/harvest`` lists every source the person may manage (all of them for
an alliance admin). ``harvest:manage`` on the team; no SQL here: ``federation.service`` does the work."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthgate.context import Context
from healthgate.errors import FieldError, Invalid, NotFound
from healthgate.federation import adapters, service
from healthgate.federation.fetch import AUTHS
from healthgate.federation.models import HarvestSource
from healthgate.identity import service as teams
from healthgate.identity.models import Team
from healthgate.web.deps import ContextDep, WriterContextDep
from healthgate.web.posted import Posted, PostedDep
from healthgate.web.templates import render

router = APIRouter(prefix="/workspace", include_in_schema=False)
DONE = {"added": "The source was added.", "saved": "The source was saved.", "queued":
        "A harvest is queued; the worker runs it shortly. Reload this page to follow it.",
        "removed": "The source was removed; the datasets it harvested stay."}
PER_PAGE = 100


def _base(team: Team) -> str:
    return f"/workspace/teams/{team.slug}/harvest"


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no {what} {raw[:100]!r}") from None


def _source_in_team(ctx: Context, team: Team, raw: str) -> HarvestSource:
    source = service.get_source(ctx, _uuid(raw, "harvest source"))
    if source.team_id != team.id:
        raise NotFound(f"no harvest source {raw[:100]!r} in {team.name}")
    return source


def _form_values(posted: Posted) -> tuple[dict[str, Any], list[FieldError]]:
    """The source's fields from the form; the settings JSON, allowed hosts and schedule read here."""
    errors: list[FieldError] = []
    raw_settings = posted.one("settings").strip()
    settings: dict[str, Any] = {}
    if raw_settings:
        try:
            loaded = json.loads(raw_settings)
            if isinstance(loaded, dict):
                settings = loaded
            else:
                errors.append(FieldError("settings", "a JSON object, e.g. {\"page_size\": 50}"))
        except ValueError as exc:
            errors.append(FieldError("settings", f"not JSON: {exc}"))
    hosts = [h.strip() for h in posted.one("allowed_hosts").replace("\n", ",").split(",") if h.strip()]
    if hosts:
        settings["allowed_hosts"] = hosts
    else:
        settings.pop("allowed_hosts", None)
    schedule_raw = posted.one("schedule_minutes").strip()
    schedule: int | None = None
    if schedule_raw:
        if schedule_raw.isdigit():
            schedule = int(schedule_raw) or None
        else:
            errors.append(FieldError("schedule_minutes", "a whole number of minutes, or empty"))
    values = {"name": posted.one("name").strip(), "url": posted.one("url").strip(),
              "auth": posted.one("auth", "none"), "settings": settings, "schedule_minutes": schedule,
              "enabled": posted.one("enabled") == "1"}
    return values, errors


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    page = render(request, template, status_code=status_code, kinds=adapters.LABELS, auths=AUTHS, **values)
    page.headers["Cache-Control"] = "no-store"
    return page


def _form(source: HarvestSource | None, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the form shows: the posted values after an error, else the source's (never its secret)."""
    if values is not None:
        settings = dict(values.get("settings") or {})
    elif source is not None:
        settings = dict(source.settings or {})
        values = {"name": source.name, "url": source.url, "auth": source.auth, "kind": source.kind,
                  "schedule_minutes": source.schedule_minutes, "enabled": source.enabled}
    else:
        settings = {}
        values = {"name": "", "url": "", "auth": "none", "kind": "hdruk-fma", "schedule_minutes": None,
                  "enabled": True}
    hosts = settings.pop("allowed_hosts", [])
    return {**values, "allowed_hosts": ", ".join(h for h in hosts if isinstance(h, str)),
            "settings_json": json.dumps(settings, indent=1) if settings else ""}


@router.get("/harvest", response_class=HTMLResponse)
def all_sources(request: Request, ctx: ContextDep) -> HTMLResponse:
    """Every source this person may manage (all of them for an alliance admin)."""
    return _page(request, "federation/all.html", rows=service.summaries(ctx), admin=ctx.actor.is_admin)


@router.get("/teams/{team_ref}/harvest", response_class=HTMLResponse)
def team_sources(request: Request, team_ref: str, ctx: ContextDep, done: str = "") -> HTMLResponse:
    team = teams.resolve_team(ctx, team_ref)
    return _page(request, "federation/sources.html", team=team, base=_base(team),
                 rows=service.summaries(ctx, team.id), form=_form(None), errors=[], done=DONE.get(done, ""))


@router.post("/teams/{team_ref}/harvest", response_class=HTMLResponse)
def add_source(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = teams.resolve_team(ctx, team_ref)
    values, errors = _form_values(posted)
    kind = posted.one("kind", "hdruk-fma")
    try:
        if errors:
            raise Invalid("the form has errors", errors)
        source = service.create_source(ctx, team.id, kind=kind, secret=posted.one("secret") or None, **values)
    except Invalid as exc:
        return _page(request, "federation/sources.html", status_code=422, team=team, base=_base(team),
                     rows=service.summaries(ctx, team.id), form=_form(None, {**values, "kind": kind}),
                     errors=exc.errors or [FieldError("", exc.detail)], done="")
    return RedirectResponse(f"{_base(team)}/{source.id}?done=added", status_code=303)


def _source_page(request: Request, ctx: Context, team: Team, source: HarvestSource, *, status_code: int = 200,
                 form: dict[str, Any] | None = None, errors: list[FieldError] | None = None,
                 done: str = "") -> HTMLResponse:
    return _page(request, "federation/source.html", status_code=status_code, team=team, base=_base(team),
                 source=source, jobs=service.jobs(ctx, source.id, limit=30), form=form or _form(source),
                 errors=errors or [], done=DONE.get(done, ""))


@router.get("/teams/{team_ref}/harvest/{source_id}", response_class=HTMLResponse)
def source_page(request: Request, team_ref: str, source_id: str, ctx: ContextDep, done: str = "") -> HTMLResponse:
    team = teams.resolve_team(ctx, team_ref)
    return _source_page(request, ctx, team, _source_in_team(ctx, team, source_id), done=done)


@router.post("/teams/{team_ref}/harvest/{source_id}", response_class=HTMLResponse)
def save_source(request: Request, team_ref: str, source_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = teams.resolve_team(ctx, team_ref)
    source = _source_in_team(ctx, team, source_id)
    values, errors = _form_values(posted)
    changes: dict[str, Any] = dict(values)
    if posted.one("remove_secret") == "1":
        changes["secret"] = None
    elif posted.one("secret"):
        changes["secret"] = posted.one("secret")
    row_version = posted.one("row_version")
    try:
        if errors:
            raise Invalid("the form has errors", errors)
        service.update_source(ctx, source.id, expected_row_version=int(row_version) if row_version.isdigit()
                              else None, **changes)
    except Invalid as exc:
        return _source_page(request, ctx, team, source, status_code=422,
                            form=_form(source, {**values, "kind": source.kind}),
                            errors=exc.errors or [FieldError("", exc.detail)])
    return RedirectResponse(f"{_base(team)}/{source.id}?done=saved", status_code=303)


@router.post("/teams/{team_ref}/harvest/{source_id}/run", response_class=HTMLResponse)
def run_source(request: Request, team_ref: str, source_id: str, ctx: WriterContextDep) -> Any:
    team = teams.resolve_team(ctx, team_ref)
    source = _source_in_team(ctx, team, source_id)
    service.enqueue(ctx, source.id)
    return RedirectResponse(f"{_base(team)}/{source.id}?done=queued", status_code=303)


@router.post("/teams/{team_ref}/harvest/{source_id}/delete", response_class=HTMLResponse)
def delete_source(request: Request, team_ref: str, source_id: str, ctx: WriterContextDep) -> Any:
    team = teams.resolve_team(ctx, team_ref)
    service.delete_source(ctx, _source_in_team(ctx, team, source_id).id)
    return RedirectResponse(f"{_base(team)}?done=removed", status_code=303)


@router.get("/teams/{team_ref}/harvest/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, team_ref: str, job_id: str, ctx: ContextDep, outcome: str = "",
             page: int = 1) -> HTMLResponse:
    team = teams.resolve_team(ctx, team_ref)
    job, source = service.get_job(ctx, _uuid(job_id, "harvest job"))
    if source.team_id != team.id:
        raise NotFound(f"no harvest job {job_id[:100]!r} in {team.name}")
    chosen = outcome if outcome in service.OUTCOMES else None
    page = max(1, min(page, 10**6))
    items, total = service.job_items(ctx, job.id, outcome=chosen, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return _page(request, "federation/job.html", team=team, base=_base(team), source=source, job=job,
                 items=items, total=total, outcome=chosen or "", outcomes=service.OUTCOMES, page=page,
                 pages=max(1, -(-total // PER_PAGE)))
