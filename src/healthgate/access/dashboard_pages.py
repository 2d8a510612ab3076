"""The custodian dashboard (queue ages, time to decision, counts, charts, CSV) and the alliance's clock standards.
No SQL here: the figures come from ``access.dashboard``, the settings from ``access.standards``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from healthgate.access import dashboard as figures
from healthgate.access import standards
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.identity import service as identity
from healthgate.identity.models import Team
from healthgate.identity.permissions import Permission, require
from healthgate.web.deps import WriterContextDep
from healthgate.web.posted import PostedDep
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)
DASHBOARD = "/workspace/teams/{team_ref}/access/dashboard"
NOTICES = {"nation": "The team's nation was saved: its clocks now skip that nation's bank holidays.",
           "standards": "The standards were saved."}


def _dashboard_page(request: Request, ctx: Context, team: Team, *, errors: list[FieldError] | None = None,
                    done: str = "", status_code: int = 200) -> HTMLResponse:
    board = figures.dashboard(ctx, team.id)
    return render(request, "access/dashboard/dashboard.html", status_code=status_code, team=team, board=board,
                  labels=figures.STATE_LABELS, step_labels=standards.STEP_LABELS, nations=standards.NATIONS,
                  can_manage=ctx.actor.can(Permission.APPLICATION_MANAGE, team.id), errors=errors or [],
                  notice=NOTICES.get(done, ""))


@router.get(DASHBOARD, response_class=HTMLResponse)
def dashboard_page(request: Request, team_ref: str, ctx: WriterContextDep, done: str = "") -> HTMLResponse:
    return _dashboard_page(request, ctx, identity.resolve_team(ctx, team_ref), done=done)


def _csv(body: str, filename: str) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "private, no-store"})


@router.get(DASHBOARD + "/queue.csv")
def queue_csv(team_ref: str, ctx: WriterContextDep) -> Response:
    team = identity.resolve_team(ctx, team_ref)
    return _csv(figures.queue_csv(ctx, team.id), f"{team.slug}-access-queue-{ctx.now():%Y-%m-%d}.csv")


@router.get(DASHBOARD + "/decisions.csv")
def decisions_csv(team_ref: str, ctx: WriterContextDep) -> Response:
    team = identity.resolve_team(ctx, team_ref)
    return _csv(figures.decisions_csv(ctx, team.id), f"{team.slug}-access-decisions-{ctx.now():%Y-%m-%d}.csv")


@router.post(DASHBOARD + "/nation", response_class=HTMLResponse)
def set_nation(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = identity.resolve_team(ctx, team_ref)
    try:
        standards.set_nation(ctx, team.id, posted.one("nation"))
    except Invalid as exc:
        return _dashboard_page(request, ctx, team, errors=exc.errors, status_code=422)
    return RedirectResponse(DASHBOARD.format(team_ref=team.slug) + "?done=nation", status_code=303)


# ---- the alliance's standards -------------------------------------------------------------------------------


def _standards_page(request: Request, ctx: Context, *, values: dict[str, dict[str, str]] | None = None,
                    errors: list[FieldError] | None = None, done: str = "", status_code: int = 200) -> HTMLResponse:
    current = standards.standards(ctx)
    shown = values or {s: {"working_days": str(v.working_days), "due_soon_days": str(v.due_soon_days)}
                       for s, v in current.items()}
    return render(request, "access/dashboard/standards.html", status_code=status_code, steps=standards.STEPS,
                  labels=standards.STEP_LABELS, values=shown, errors=errors or [],
                  error_paths={e.path for e in errors or []}, notice=NOTICES.get(done, ""))


@router.get("/admin/access/standards", response_class=HTMLResponse)
def standards_page(request: Request, ctx: WriterContextDep, done: str = "") -> HTMLResponse:
    require(ctx.actor, Permission.ACCESS_CONFIGURE)
    return _standards_page(request, ctx, done=done)


@router.post("/admin/access/standards", response_class=HTMLResponse)
def save_standards(request: Request, ctx: WriterContextDep, posted: PostedDep) -> Any:
    require(ctx.actor, Permission.ACCESS_CONFIGURE)
    values = {step: {"working_days": posted.one(f"{step}/working_days"),
                     "due_soon_days": posted.one(f"{step}/due_soon_days")} for step in standards.STEPS}
    try:
        standards.set_standards(ctx, {s: (v["working_days"], v["due_soon_days"]) for s, v in values.items()})
    except Invalid as exc:
        return _standards_page(request, ctx, values=values, errors=exc.errors, status_code=422)
    return RedirectResponse("/admin/access/standards?done=standards", status_code=303)
