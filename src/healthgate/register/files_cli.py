"""``healthgate register-file``: a custodian's data use register file from the command line, through the same
``register.upload`` and ``register.export`` as the pages and the API (run as the system, above every team).

    healthgate register-file upload TEAM FILE [--apply] [--no-publish] [--confirm "<dataset id>|<name>"] [--json]
    healthgate register-file export OUT [--team TEAM] [--format csv|xlsx|json]
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import transaction
from healthgate.errors import HealthgateError
from healthgate.identity.permissions import SYSTEM
from healthgate.interop import register_table as T

app = typer.Typer(help="Upload or export a data use register file (HDR UK's template, CSV or XLSX).",
                  no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _sessions(settings: Settings) -> Any:
    from healthgate.cli import _engine
    from healthgate.db import make_sessionmaker

    return make_sessionmaker(_engine(settings))


def _fail(exc: HealthgateError) -> None:
    from healthgate.cli import _fail as fail

    fail(exc)


@app.command("upload")
def upload_file(
    team: Annotated[str, typer.Argument(help="the custodian team: id, slug or name")],
    path: Annotated[Path, typer.Argument(help="the register file (.xlsx or .csv)", exists=True, dir_okay=False)],
    apply: Annotated[bool, typer.Option("--apply", help="write it (default: a dry run)")] = False,
    publish: Annotated[bool, typer.Option("--publish/--no-publish", help="publish on upload")] = True,
    confirm: Annotated[list[str] | None, typer.Option(help="a fuzzy dataset match to link: '<id>|<name>'")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Check a register file and show what it would do; with --apply, write it all (or nothing)."""
    from healthgate.identity import service as identity
    from healthgate.register import upload

    settings = Settings()
    limits = T.Limits(settings.register_upload_max_rows, settings.register_upload_max_bytes,
                      settings.register_upload_max_unpacked_bytes)
    try:
        with transaction(_sessions(settings)) as session:
            ctx = Context(session, SYSTEM, SystemClock())
            team_row = identity.resolve_team(ctx, team)
            result = upload.upload(ctx, team_row.id, path.name, path.read_bytes(), limits=limits,
                                   dry_run=not apply, publish=publish, confirm=confirm or ())
    except HealthgateError as exc:
        _fail(exc)
        return
    if json_out:
        console.print_json(json.dumps({"applied": result.applied, "counts": result.counts, "notes": result.notes,
                                       "matches": [{"name": m.name, "kind": m.kind, "title": m.title,
                                                    "score": m.score, "linked": m.linked,
                                                    "confirm": m.token if m.kind == "fuzzy" else None}
                                                   for m in result.matches]}))
        return
    for note in result.notes:
        err.print(f"[yellow]note[/yellow] {note}", highlight=False)
    for m in result.to_confirm:
        console.print(f"fuzzy match ({m.score}): {m.name!r} ~ {m.title!r}; link it with --confirm "
                      f"{m.token!r}", highlight=False)
    c = result.counts
    verb = "" if result.applied else "would be "
    console.print(f"{c['rows']} rows: {c['created']} {verb}created, {c['updated']} {verb}updated, "
                  f"{c['unchanged']} unchanged, {c['published']} {verb}published"
                  + ("" if result.applied else " -- nothing written (dry run; --apply to write)"), highlight=False)


class Format(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"


@app.command("export")
def export_file(
    out: Annotated[Path, typer.Argument(help="the file to write")],
    team: Annotated[str | None, typer.Option(help="one custodian (id, slug or name); default: the alliance")] = None,
    format_: Annotated[Format, typer.Option("--format", help="csv, xlsx or json")] = Format.CSV,
) -> None:
    """Write the public register (published entries) as CSV, XLSX or JSON."""
    from healthgate.identity import service as identity
    from healthgate.register import export

    settings = Settings()
    try:
        with transaction(_sessions(settings)) as session:
            ctx = Context(session, SYSTEM, SystemClock())
            team_row = identity.resolve_team(ctx, team) if team else None
            data = export.export(ctx, format_.value, team=team_row, base_url=settings.base_url.rstrip("/"))
    except HealthgateError as exc:
        _fail(exc)
        return
    out.write_bytes(data)
    console.print(f"wrote {out} ({len(data):,} bytes)", highlight=False)
