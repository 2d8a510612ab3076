"""The ``healthgate`` command."""

from __future__ import annotations

import enum
import json
import re
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from healthgate import __version__, context, migrate
from healthgate.access import cli as access_cli
from healthgate.alliance import cli as alliance_cli
from healthgate.audit import cli as audit_cli
from healthgate.audit import keys as audit_keys
from healthgate.catalogue.importer import ImportReport
from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.errors import FieldError, HealthgateError
from healthgate.federation import cli as harvest_cli
from healthgate.identity import accounts_cli as _users_cli
from healthgate.identity import cli as identity_cli
from healthgate.identity.permissions import SYSTEM
from healthgate.outbox import cli as outbox_cli
from healthgate.register import files_cli as register_files_cli

app = typer.Typer(help="healthgate: a gateway for health data research.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(access_cli.app, name="access")
app.add_typer(_users_cli.app, name="users")
app.add_typer(register_files_cli.app, name="register-file")
app.add_typer(alliance_cli.app, name="alliance")  # members, obligations, reminders
identity_cli.register(app)  # teams, orgs, tokens
harvest_cli.register(app)  # harvest SOURCE, harvest-sources ...
DEMO_ADMIN = "admin@example.org"  # the demo's administrator account
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"healthgate {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Settings come from HEALTHGATE_* environment variables (see the README)."""


def _masked(url: str) -> str:
    """The database URL with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not even a URL: hide anything between "user:" and "@"
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def _reason(exc: BaseException) -> str:
    """The first line of what the database driver (or the file system) said."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else 'no detail'}"


def _engine(settings: Settings) -> Engine:
    """An engine on the configured database, migrated to the latest schema; a database that cannot be
    opened is one clear line (which database, what failed) and exit code 1, never a traceback."""
    url = settings.resolved_database_url
    engine: Engine | None = None
    try:
        if settings.is_sqlite:
            settings.ensure_data_dir()
        engine = make_engine(url)
        audit_keys.bind(engine, settings)
        migrate.upgrade(engine)
    except (SQLAlchemyError, OSError, ImportError) as exc:
        if engine is not None:
            engine.dispose()
        err.print(f"[red]cannot open the database[/red] {_masked(url)}: {_reason(exc)}", highlight=False)
        raise typer.Exit(code=1) from None
    return engine


def _print_errors(errors: list[FieldError], limit: int = 50) -> None:
    for e in errors[:limit]:
        err.print(f"[red]error[/red] {e.path}: {e.message}", markup=True, highlight=False)
    if len(errors) > limit:
        err.print(f"... and {len(errors) - limit} more errors")


def _fail(exc: HealthgateError) -> None:
    err.print(f"[red]{exc.title}[/red]: {exc.detail}")
    _print_errors(exc.errors)
    raise typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    settings = Settings()
    _engine(settings)
    console.print("database is up to date")


def _run_import(sessions: sessionmaker[Session], paths: list[Path], *, team: str | None, dry_run: bool,
                partial: bool, accept_invalid: bool | None, quiet: bool = False) -> ImportReport:
    from healthgate.catalogue.importer import import_items
    from healthgate.interop.sources import read_sources

    items, read_errors, _ = read_sources(paths)
    if accept_invalid is not None:  # the user's --accept-invalid / --strict outranks each source's default
        for item in items:
            item.accept_invalid = accept_invalid
    if read_errors and not partial:
        report = ImportReport(failed=len(read_errors), errors=read_errors, dry_run=dry_run)
        return report
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, disable=quiet or len(items) < 200, transient=True) as progress:
        task = progress.add_task("checking", total=len(items))
        with transaction(sessions) as session:
            report = import_items(Context(session, SYSTEM, SystemClock()), items, team=team, dry_run=dry_run,
                                  partial=partial, accept_invalid=False,
                                  progress=lambda n: progress.advance(task, n),
                                  max_bytes=Settings().max_document_bytes)
            progress.update(task, description="writing")
            if not report.written:
                session.rollback()
    report.failed += len(read_errors)
    report.errors = read_errors + report.errors
    return report


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="HDR UK JSON files or folders, or the gateway CSV export")],
    team: Annotated[str | None, typer.Option(help="custodian team owning every record")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check everything, write nothing")] = False,
    partial: Annotated[bool, typer.Option("--partial", help="import the good records even if some fail")] = False,
    accept_invalid: Annotated[bool | None, typer.Option(
        "--accept-invalid/--strict",
        help="publish records that break their schema (with their problems and a low score); "
             "default: accept for the legacy CSV, strict for JSON")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Import dataset metadata, publishing a new version of each dataset that changed."""
    sessions = make_sessionmaker(_engine(Settings()))
    try:
        report = _run_import(sessions, paths, team=team, dry_run=dry_run, partial=partial,
                             accept_invalid=accept_invalid, quiet=json_out)
    except HealthgateError as exc:
        _fail(exc)
        return
    if json_out:
        console.print_json(json.dumps(report.as_dict()))
    else:
        _print_errors(report.errors)
        verb = "would be" if dry_run or not report.written else ""
        console.print(f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
                      f"failed {report.failed}; {report.problem_count} schema problems recorded"
                      + ("" if report.written else f" -- nothing written{' (dry run)' if dry_run else ''}")
                      + (f" ({verb} written)" if verb and report.written else ""))
    if report.failed and not partial:
        raise typer.Exit(code=1)


class ExportFormat(enum.StrEnum):
    HDRUK = "hdruk"  # one HDR UK 4.0.0 JSON file per dataset
    DCAT_TTL = "dcat-ttl"  # the catalogue as one DCAT-AP 3.0.1 / HealthDCAT-AP Turtle file
    DCAT_JSONLD = "dcat-jsonld"  # ... as one JSON-LD file


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="folder (hdruk) or file (dcat-ttl, dcat-jsonld) to write")],
    format_: Annotated[ExportFormat, typer.Option("--format", help="hdruk: one HDR UK 4.0.0 JSON file per dataset "
                                                  "in the folder --out; dcat-ttl / dcat-jsonld: the catalogue as "
                                                  "one DCAT-AP 3.0.1 file --out")]
    = ExportFormat.HDRUK,
) -> None:
    """Export every published dataset's latest version."""
    from healthgate.catalogue import service
    from healthgate.interop import hdruk

    if format_ in (ExportFormat.DCAT_TTL, ExportFormat.DCAT_JSONLD):
        from healthgate.federation import dcat_export

        settings = Settings()
        n = dcat_export.export_file(_engine(settings), settings.base_url, out,
                                    "ttl" if format_ == ExportFormat.DCAT_TTL else "jsonld")
        console.print(f"wrote {n} datasets as DCAT-AP 3.0.1 ({format_.value}) to {out}")
        return
    sessions = make_sessionmaker(_engine(Settings()))
    with transaction(sessions) as session:
        n = hdruk.export_folder(service.iter_public_versions(session), out)
    console.print(f"wrote {n} HDR UK {hdruk.SCHEMA_VERSION} documents to {out}")


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from healthgate.app import create_app

    _engine(settings).dispose()  # a database that cannot be opened is one clear line, not a traceback
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command()
def serve(host: Annotated[str, typer.Option()] = "127.0.0.1", port: Annotated[int, typer.Option()] = 8000) -> None:
    """Migrate the database if needed, then serve the web pages and the API."""
    _serve(Settings(), host, port)


def _demo_admin_password(sessions: sessionmaker[Session], settings: Settings) -> str:
    """The demo admin's password: made once, kept in the data directory (readable by its owner only)."""
    import secrets

    from healthgate.identity import users

    path = settings.data_dir / "admin-password"
    if not path.exists():
        password = secrets.token_urlsafe(12)
        with transaction(sessions) as session:
            ctx = context.system(session)
            admin = users.find_by_email(ctx, DEMO_ADMIN) or users.create_user(
                ctx, DEMO_ADMIN, "Demo administrator", is_admin=True, verified=True)
            users.set_password(ctx, admin, password)
        path.write_text(password)
        path.chmod(0o600)
    return path.read_text().strip()


@app.command()
def demo(port: Annotated[int, typer.Option()] = 8000, host: Annotated[str, typer.Option()] = "127.0.0.1",
         no_serve: Annotated[bool, typer.Option("--no-serve", help="load the demo data and exit")] = False) -> None:
    """Load the real HDR UK Gateway corpus (605 datasets) once, then serve."""
    from healthgate.catalogue.models import Dataset
    from healthgate.identity import tokens, users

    settings = Settings()
    settings.ensure_data_dir()
    sessions = make_sessionmaker(_engine(settings))
    with transaction(sessions) as session:
        count = session.scalar(select(func.count()).select_from(Dataset)) or 0
    if count == 0:
        corpus = resources.files("healthgate").joinpath("data/hdruk-gateway-datasets-2022.csv")
        with resources.as_file(corpus) as path:
            console.print("loading the HDR UK Gateway corpus ...")
            report = _run_import(sessions, [path], team=None, dry_run=False, partial=False, accept_invalid=True)
        if not report.written:
            _print_errors(report.errors)
            raise typer.Exit(code=1)
        console.print(f"loaded {report.created} datasets ({report.problem_count} schema problems recorded)")
    with transaction(sessions) as session:  # the corpus's custodians become organisations with teams
        from healthgate.identity import organisations

        linked = organisations.organisations_for_teams(context.system(session))
    if linked:
        console.print(f"{linked} custodian teams now belong to organisations of their names")
    token_file = settings.data_dir / "admin-token"
    if not token_file.exists():
        with transaction(sessions) as session:
            ctx = context.system(session)
            admin = users.find_by_email(ctx, DEMO_ADMIN) or users.create_user(
                ctx, DEMO_ADMIN, "Demo administrator", is_admin=True, verified=True)
            token = tokens.create_token(ctx, admin, "demo admin", scope="admin")
        token_file.write_text(token)
        token_file.chmod(0o600)
    token = token_file.read_text().strip()
    password = _demo_admin_password(sessions, settings)
    url = f"http://{host}:{port}/"
    console.print(f"\n[bold]healthgate demo[/bold] at {url}\n"
                  f"  browse the datasets:  {url}\n"
                  f"  the JSON API:         {url}api/v1/datasets   (docs: {url}api/v1/docs)\n"
                  f"  sign in at {url}login as {DEMO_ADMIN}, password: {password}\n"
                  f"  admin token for writes (keep it private): {token}\n"
                  f"    curl -H 'Authorization: Bearer {token}' -X POST {url}api/v1/validate -d @dataset.json\n")
    if not no_serve:
        _serve(settings, host, port)


outbox_cli.register(app)  # healthgate worker, healthgate outbox status|dead|retry
