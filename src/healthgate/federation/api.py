"""JSON API of harvest sources and jobs (``harvest:manage`` on the source's team; alliance admins any team).
No SQL here: ``federation.service`` does the work; a run is queued here and done by the worker."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.federation import service
from healthgate.federation.models import HarvestSource
from healthgate.federation.schemas import (
    JobItemOut,
    JobOut,
    JobPage,
    JobReport,
    SourceIn,
    SourceOut,
    SourcePatch,
)
from healthgate.identity import service as teams
from healthgate.web import http
from healthgate.web.deps import ContextDep, SettingsDep, WriterContextDep, get_actor
from healthgate.web.openapi import problems

router = APIRouter(prefix="/api/v1", tags=["harvest"], dependencies=[Depends(get_actor)])
SourceP = Annotated[uuid.UUID, Path(description="the harvest source's id")]
JobP = Annotated[uuid.UUID, Path(description="the harvest job's id")]
IfMatch = Annotated[str | None, Header(description="the ETag you read; 412 if the source changed since")]
_ETAG = {"ETag": {"description": "the source's version, for If-Match", "schema": {"type": "string"}}}


def etag(source: HarvestSource) -> str:
    return f'"r{source.row_version}"'


def _out(ctx: Context, source: HarvestSource) -> SourceOut:
    names = service.team_names(ctx.session, [source])
    latest = service.jobs(ctx, source.id, limit=1)
    return SourceOut.of(source, names.get(source.team_id, ""), latest[0] if latest else None)


@router.get("/harvest-sources", response_model=list[SourceOut], operation_id="listHarvestSources",
            responses=problems(403, 404, 422))
def list_sources(ctx: ContextDep, team: Annotated[str | None, Query(
        max_length=300, description="only this team's (id, slug or name)")] = None) -> list[SourceOut]:
    """The sources you may manage: your teams' (``harvest:manage``), every source for an alliance admin."""
    service.signed_in(ctx)
    team_id = teams.resolve_team(ctx, team).id if team else None
    return [SourceOut.of(s.source, s.team_name, s.last_job) for s in service.summaries(ctx, team_id)]


@router.post("/harvest-sources", status_code=201, response_model=SourceOut, operation_id="createHarvestSource",
             responses=problems(403, 404, 409, 422, body=True))
def create_source(ctx: WriterContextDep, body: SourceIn, request: Request, response: Response) -> SourceOut:
    """Add a source for a team. The secret is stored and never shown again."""
    team = teams.resolve_team(ctx, body.team)
    source = service.create_source(ctx, team.id, name=body.name, kind=body.kind, url=body.url, auth=body.auth,
                                   secret=body.secret, settings=body.settings,
                                   schedule_minutes=body.schedule_minutes, enabled=body.enabled)
    response.headers["Location"] = http.absolute(request, f"/api/v1/harvest-sources/{source.id}")
    response.headers["ETag"] = etag(source)
    return SourceOut.of(source, team.name)


@router.get("/harvest-sources/{source_id}", response_model=SourceOut, operation_id="getHarvestSource",
            responses={**problems(404, 422), 200: {"headers": _ETAG}})
def get_source(ctx: ContextDep, source_id: SourceP, response: Response) -> SourceOut:
    source = service.get_source(ctx, source_id)
    response.headers["ETag"] = etag(source)
    return _out(ctx, source)


@router.patch("/harvest-sources/{source_id}", response_model=SourceOut, operation_id="updateHarvestSource",
              responses={**problems(404, 409, 412, 422, body=True), 200: {"headers": _ETAG}})
def update_source(ctx: WriterContextDep, source_id: SourceP, body: SourcePatch, response: Response,
                  if_match: IfMatch = None) -> SourceOut:
    """Change what the body gives. ``secret``: absent keeps it, "" removes it. The kind and team never change."""
    source = service.get_source(ctx, source_id)
    http.check_if_match(if_match, etag(source))
    changes: dict[str, Any] = {k: v for k, v in body.model_dump(exclude_unset=True).items()}
    if "schedule_minutes" in changes:
        if changes["schedule_minutes"] is not None and 0 < changes["schedule_minutes"] < service.MIN_SCHEDULE_MINUTES:
            raise Invalid("bad schedule", [FieldError("schedule_minutes", f"0, or at least "
                                                                          f"{service.MIN_SCHEDULE_MINUTES}")])
        changes["schedule_minutes"] = changes["schedule_minutes"] or None
    for key in ("name", "url", "auth", "settings", "enabled"):
        if key in changes and changes[key] is None:
            del changes[key]
    updated = service.update_source(ctx, source_id, expected_row_version=source.row_version, **changes)
    response.headers["ETag"] = etag(updated)
    return _out(ctx, updated)


@router.delete("/harvest-sources/{source_id}", status_code=204, operation_id="deleteHarvestSource",
               responses={**problems(404, 409, 422), 204: {"description": "Deleted"}})
def delete_source(ctx: WriterContextDep, source_id: SourceP) -> Response:
    """Remove the source, its jobs and records; the datasets it harvested stay, as the team's."""
    service.delete_source(ctx, source_id)
    return Response(status_code=204)


@router.post("/harvest-sources/{source_id}/jobs", status_code=202, response_model=JobOut,
             operation_id="runHarvestSource", responses=problems(404, 422))
def run_source(ctx: WriterContextDep, source_id: SourceP, request: Request, response: Response) -> JobOut:
    """Queue a harvest now (the worker runs it); if one is already queued or running, that one is answered."""
    job = service.enqueue(ctx, source_id)
    response.headers["Location"] = http.absolute(request, f"/api/v1/harvest-jobs/{job.id}")
    return JobOut.of(job)


@router.get("/harvest-sources/{source_id}/jobs", response_model=JobPage, operation_id="listHarvestJobs",
            responses=problems(404, 422))
def list_jobs(ctx: ContextDep, source_id: SourceP, request: Request, response: Response, settings: SettingsDep,
              page: Annotated[int, Query(ge=1, le=10**6)] = 1,
              per_page: Annotated[int, Query(ge=1, le=1000)] = 20) -> JobPage:
    """The source's jobs, newest first."""
    per_page = min(per_page, settings.max_per_page)
    total = service.count_jobs(ctx, source_id)
    rows = service.jobs(ctx, source_id, limit=per_page, offset=(page - 1) * per_page)
    nxt, prev = http.page_links(request, page, per_page, total)
    http.link_header(response, nxt, prev)
    return JobPage(total=total, page=page, per_page=per_page, items=[JobOut.of(j) for j in rows], next=nxt,
                   prev=prev)


@router.get("/harvest-jobs/{job_id}", response_model=JobReport, operation_id="getHarvestJob",
            responses=problems(404, 422))
def get_job(ctx: ContextDep, job_id: JobP, request: Request, response: Response, settings: SettingsDep,
            outcome: Annotated[Literal["created", "updated", "archived", "failed", "refused"] | None,
                               Query(description="only report rows with this outcome")] = None,
            page: Annotated[int, Query(ge=1, le=10**6)] = 1,
            per_page: Annotated[int, Query(ge=1, le=1000)] = 100) -> JobReport:
    """A job and its per-item report: every item that was created, updated, archived, failed or refused, with
    why (unchanged items are only counted)."""
    per_page = min(per_page, max(settings.max_per_page, 100))
    job, source = service.get_job(ctx, job_id)
    items, total = service.job_items(ctx, job_id, outcome=outcome, limit=per_page, offset=(page - 1) * per_page)
    nxt, prev = http.page_links(request, page, per_page, total)
    http.link_header(response, nxt, prev)
    return JobReport(job=JobOut.of(job), source=source.name, total=total, page=page, per_page=per_page,
                     items=[JobItemOut.of(i) for i in items], next=nxt, prev=prev)
