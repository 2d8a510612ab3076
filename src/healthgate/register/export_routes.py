"""Downloads of the public data use register: ``/data-uses/export.csv|.xlsx|.json`` (the whole alliance, or one
custodian with ``?team=<id, slug or name>``; published entries only) and the upload template
(``/data-uses/template.xlsx``, HDR UK's own file, and ``/data-uses/template.csv``). No SQL here: ``export``
reads, ``interop`` writes. Include this router before any ``/data-uses/{id}`` route, so that these fixed paths
are matched first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from healthgate.context import Context
from healthgate.db import transaction
from healthgate.identity import service as identity
from healthgate.identity.models import Team
from healthgate.identity.permissions import Actor
from healthgate.interop import register_csv, register_xlsx
from healthgate.register import export
from healthgate.register import fields as F
from healthgate.web.deps import ContextDep
from healthgate.web.templates import site_url

router = APIRouter(include_in_schema=False)
TeamQ = Annotated[str | None, Query(max_length=300, description="a custodian team's id, slug or name")]


def _file_headers(filename: str, cache: str = "public, max-age=300") -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": cache,
            "X-Content-Type-Options": "nosniff"}


def _file(data: bytes, media_type: str, filename: str, *, cache: str = "public, max-age=300") -> Response:
    return Response(data, media_type=media_type, headers=_file_headers(filename, cache))


def _stream(request: Request, actor: Actor, fmt: str, team_id: uuid.UUID | None, base_url: str) -> Iterator[bytes]:
    """The CSV or JSON, streamed from a transaction of its own (the request's has ended when the body is sent)."""
    with transaction(request.app.state.sessions) as session:
        ctx = Context(session, actor, request.app.state.clock)
        team = session.get(Team, team_id) if team_id else None
        yield from export.stream(ctx, fmt, team=team, base_url=base_url)


def _export(request: Request, ctx: ContextDep, fmt: str, team_ref: str | None) -> Response:
    """The export as a file: XLSX made in memory, CSV and JSON streamed. An unknown ``team_ref`` is a 404 before
    any of the body is sent."""
    team = identity.resolve_team(ctx, team_ref) if team_ref and team_ref.strip() else None
    stamp = ctx.clock.now().date().isoformat()
    filename = f"data-uses-{team.slug if team else 'alliance'}-{stamp}.{fmt}"
    if fmt == "xlsx":
        return _file(export.export(ctx, fmt, team=team, base_url=site_url(request)), export.FORMATS[fmt], filename)
    body = _stream(request, ctx.actor, fmt, team.id if team else None, site_url(request))
    return StreamingResponse(body, media_type=export.FORMATS[fmt] + "; charset=utf-8",
                             headers=_file_headers(filename))


@router.get("/data-uses/export.csv")
def export_csv(request: Request, ctx: ContextDep, team: TeamQ = None) -> Response:
    """The public register as CSV in the upload template's columns (UTF-8 with a byte order mark)."""
    return _export(request, ctx, "csv", team)


@router.get("/data-uses/export.xlsx")
def export_xlsx(request: Request, ctx: ContextDep, team: TeamQ = None) -> Response:
    """The public register as XLSX in the upload template's layout."""
    return _export(request, ctx, "xlsx", team)


@router.get("/data-uses/export.json")
def export_json(request: Request, ctx: ContextDep, team: TeamQ = None) -> Response:
    """The public register as JSON (consolidated reporting)."""
    return _export(request, ctx, "json", team)


@router.get("/data-uses/template.xlsx")
def template_xlsx() -> Response:
    """HDR UK's data use upload template, as custodians know it."""
    return _file(F.template_bytes(), register_xlsx.MEDIA_TYPE, F.TEMPLATE_FILE, cache="public, max-age=86400")


@router.get("/data-uses/template.csv")
def template_csv() -> Response:
    """The same template as CSV: its header row."""
    return _file(register_csv.template(), register_csv.MEDIA_TYPE + "; charset=utf-8",
                 "hdruk-data-use-upload-template.csv", cache="public, max-age=86400")
