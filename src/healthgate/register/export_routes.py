"""Downloads of the public data use register: ``/data-uses/export.csv|.xlsx|.json`` (the whole alliance, or one
custodian with ``?team=<id, slug or name>``; published entries only) and the upload template
(``/data-uses/template.xlsx``, HDR UK's own file, and ``/data-uses/template.csv``). No SQL here: ``export``
reads, ``interop`` writes. Include this router before any ``/data-uses/{id}`` route, so that these fixed paths
are matched first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from healthgate.identity import service as identity
from healthgate.interop import register_csv, register_xlsx
from healthgate.register import export
from healthgate.register import fields as F
from healthgate.web.deps import ContextDep
from healthgate.web.templates import site_url

router = APIRouter(include_in_schema=False)
TeamQ = Annotated[str | None, Query(max_length=300, description="a custodian team's id, slug or name")]


def _file(data: bytes, media_type: str, filename: str, *, cache: str = "public, max-age=300") -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff"})


def _export(request: Request, ctx: ContextDep, fmt: str, team_ref: str | None) -> Response:
    team = identity.resolve_team(ctx, team_ref) if team_ref and team_ref.strip() else None
    data = export.export(ctx, fmt, team=team, base_url=site_url(request))
    stamp = ctx.clock.now().date().isoformat()
    media = export.FORMATS[fmt] + ("; charset=utf-8" if fmt in ("csv", "json") else "")
    return _file(data, media, f"data-uses-{team.slug if team else 'alliance'}-{stamp}.{fmt}")


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
