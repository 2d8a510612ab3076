"""``healthgate harvest SOURCE`` (run a source now, with a progress bar) and ``healthgate harvest-sources
add|list|update|remove|jobs|report``. The CLI acts as the system (like ``healthgate import``); every write
goes through ``federation.service`` and ``federation.jobs``."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.errors import FieldError, HealthgateError, Invalid
from healthgate.identity.permissions import SYSTEM

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
sources_app = typer.Typer(help="Harvest sources: custodians' own catalogues the gateway keeps current with.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("harvest")(harvest)
    app.add_typer(sources_app, name="harvest-sources")


def _sessions() -> Any:
    from healthgate.outbox.cli import _sessions as opened

    return opened(Settings())


def _fail(exc: HealthgateError) -> None:
    err.print(f"[red]{exc.title}[/red]: {exc.detail}", highlight=False)
    for e in exc.errors[:50]:
        err.print(f"[red]error[/red] {e.path}: {e.message}", highlight=False)
    raise typer.Exit(code=1)


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {counts.get(k, 0)}" for k in ("listed", "created", "updated", "unchanged", "archived",
                                                        "failed", "refused"))


def harvest(
    source: Annotated[str, typer.Argument(help="the source's name or id")],
    json_out: Annotated[bool, typer.Option("--json", help="print the job as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Harvest a source now: list its items, publish new and changed ones, archive those gone (after a
    complete listing). Exits 1 when the job failed; per-item errors are listed either way."""
    from healthgate.federation import jobs, service

    sessions, clock = _sessions(), SystemClock()
    try:
        with sessions.begin() as s:
            ctx = Context(s, SYSTEM, clock)
            found = service.find_source(ctx, source)
            name, job_id = found.name, service.enqueue(ctx, found.id, trigger="cli").id
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=err, disable=quiet or json_out, transient=True) as progress:
            task = progress.add_task(f"harvesting {name}", total=None)
            job = jobs.run_now(sessions, clock, job_id, max_document_bytes=Settings().max_document_bytes,
                               progress=lambda c: progress.update(task, description=f"{name}: {_counts(c)}"))
        with sessions() as s:
            items, total = service.job_items(Context(s, SYSTEM, clock), job.id, limit=1000)
    except HealthgateError as exc:
        _fail(exc)
        return
    problems = [i for i in items if i.outcome in ("failed", "refused")]
    if json_out:
        console.print_json(json.dumps({
            "job": str(job.id), "state": job.state, "listing_complete": job.listing_complete, "error": job.error,
            "counts": job.counts, "items": [{"remote_id": i.remote_id, "outcome": i.outcome, "message": i.message}
                                           for i in items], "items_total": total}))
    else:
        for i in problems[:100]:
            err.print(f"[red]{i.outcome}[/red] {i.remote_id}: {i.message}", highlight=False)
        if len(problems) > 100:
            err.print(f"... and {len(problems) - 100} more (healthgate harvest-sources report {job.id})")
        colour = "green" if job.state == "succeeded" else "red"
        console.print(f"[{colour}]{job.state}[/{colour}] {name}: {_counts(job.counts)}; "
                      f"{job.counts.get('requests', 0)} requests", highlight=False)
        if job.error:
            err.print(f"[red]{job.error}[/red]", highlight=False)
    if job.state != "succeeded":
        raise typer.Exit(code=1)


def _settings(pairs: list[str], settings_json: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if settings_json:
        try:
            loaded = json.loads(settings_json)
        except ValueError as exc:
            raise Invalid("bad settings", [FieldError("--settings", f"not JSON: {exc}")]) from None
        if not isinstance(loaded, dict):
            raise Invalid("bad settings", [FieldError("--settings", "a JSON object")])
        settings.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise Invalid("bad setting", [FieldError("--set", f"{pair!r}: use key=value")])
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        if key.strip() == "allowed_hosts" and isinstance(value, str):
            value = [h.strip() for h in value.split(",") if h.strip()]
        settings[key.strip()] = value
    return settings


def _secret(secret_env: str | None, secret_file: Path | None) -> str | None:
    if secret_env:
        value = os.environ.get(secret_env)
        if not value:
            raise Invalid("no secret", [FieldError("--secret-env", f"the environment variable {secret_env} is empty")])
        return value
    if secret_file:
        try:
            return secret_file.read_text().strip()
        except OSError as exc:
            raise Invalid("no secret", [FieldError("--secret-file", str(exc))]) from None
    return None


SetOpt = Annotated[list[str], typer.Option("--set", help="a setting, key=value (JSON values read as JSON); "
                                                         "repeatable")]


@sources_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="a unique name (the handle of `healthgate harvest NAME`)")],
    url: Annotated[str, typer.Option(help="the source's base URL (FMA, CKAN, GWDM) or catalogue URL (DCAT)")],
    team: Annotated[str, typer.Option(help="the custodian team that publishes what is harvested (id, slug or name)")],
    kind: Annotated[str, typer.Option(help="hdruk-fma, dcat, ckan or gwdm")] = "hdruk-fma",
    auth: Annotated[str, typer.Option(help="none, api-key, bearer or oauth2")] = "none",
    secret_env: Annotated[str | None, typer.Option(help="read the API key / token / client secret from this "
                                                        "environment variable")] = None,
    secret_file: Annotated[Path | None, typer.Option(help="read the secret from this file")] = None,
    schedule: Annotated[int | None, typer.Option(help="harvest every N minutes (the worker); none: on demand")]
    = None,
    set_: SetOpt = [],  # noqa: B006 -- Typer reads the default
    settings_json: Annotated[str | None, typer.Option("--settings", help="all settings as a JSON object")] = None,
) -> None:
    """Add a harvest source for a team."""
    from healthgate.federation import service
    from healthgate.identity import service as identity

    sessions = _sessions()
    try:
        with sessions.begin() as s:
            ctx = Context(s, SYSTEM, SystemClock())
            team_row = identity.resolve_team(ctx, team)
            created = service.create_source(ctx, team_row.id, name=name, kind=kind, url=url, auth=auth,
                                            secret=_secret(secret_env, secret_file),
                                            settings=_settings(set_, settings_json), schedule_minutes=schedule)
            console.print(f"added {created.name} ({created.id}) for {team_row.name}", highlight=False)
    except HealthgateError as exc:
        _fail(exc)


@sources_app.command("update")
def update(
    source: Annotated[str, typer.Argument(help="the source's name or id")],
    url: Annotated[str | None, typer.Option(help="a new URL")] = None,
    auth: Annotated[str | None, typer.Option(help="none, api-key, bearer or oauth2")] = None,
    secret_env: Annotated[str | None, typer.Option(help="a new secret from this environment variable")] = None,
    secret_file: Annotated[Path | None, typer.Option(help="a new secret from this file")] = None,
    schedule: Annotated[int | None, typer.Option(help="every N minutes; 0: on demand only")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="run on schedule or not")] = None,
    set_: SetOpt = [],  # noqa: B006
) -> None:
    """Change a source: given settings are merged into its settings."""
    from healthgate.federation import service

    sessions = _sessions()
    try:
        with sessions.begin() as s:
            ctx = Context(s, SYSTEM, SystemClock())
            found = service.find_source(ctx, source)
            changes: dict[str, Any] = {}
            if url is not None:
                changes["url"] = url
            if auth is not None:
                changes["auth"] = auth
            secret = _secret(secret_env, secret_file)
            if secret is not None:
                changes["secret"] = secret
            if schedule is not None:
                changes["schedule_minutes"] = schedule or None
            if enabled is not None:
                changes["enabled"] = enabled
            if set_:
                changes["settings"] = {**(found.settings or {}), **_settings(set_, None)}
            service.update_source(ctx, found.id, **changes)
            console.print(f"updated {found.name}", highlight=False)
    except HealthgateError as exc:
        _fail(exc)


@sources_app.command("list")
def list_() -> None:
    """Every source with its team, schedule and last job."""
    from healthgate.federation import service

    sessions = _sessions()
    with sessions() as s:
        rows = service.summaries(Context(s, SYSTEM, SystemClock()))
    table = Table("name", "kind", "team", "url", "schedule", "items", "last job")
    for r in rows:
        last = r.last_job
        table.add_row(r.source.name, r.source.kind, r.team_name, r.source.url,
                      f"every {r.source.schedule_minutes} min" if r.source.schedule_minutes else "on demand",
                      str(r.records), f"{last.state} {last.queued_at:%Y-%m-%d %H:%M}" if last else "never")
    console.print(table)


@sources_app.command("remove")
def remove(source: Annotated[str, typer.Argument(help="the source's name or id")]) -> None:
    """Remove a source, its jobs and records (the datasets it harvested stay, as the team's)."""
    from healthgate.federation import service

    sessions = _sessions()
    try:
        with sessions.begin() as s:
            ctx = Context(s, SYSTEM, SystemClock())
            found = service.find_source(ctx, source)
            service.delete_source(ctx, found.id)
            console.print(f"removed {found.name}", highlight=False)
    except HealthgateError as exc:
        _fail(exc)


@sources_app.command("jobs")
def jobs_(source: Annotated[str, typer.Argument(help="the source's name or id")],
          limit: Annotated[int, typer.Option(min=1, max=500)] = 20) -> None:
    """A source's latest jobs."""
    from healthgate.federation import service

    sessions = _sessions()
    try:
        with sessions() as s:
            ctx = Context(s, SYSTEM, SystemClock())
            rows = service.jobs(ctx, service.find_source(ctx, source).id, limit=limit)
    except HealthgateError as exc:
        _fail(exc)
        return
    table = Table("job", "state", "queued", "trigger", "counts", "error")
    for j in rows:
        table.add_row(str(j.id), j.state, f"{j.queued_at:%Y-%m-%d %H:%M}", j.trigger, _counts(j.counts or {}),
                      (j.error or "")[:200])
    console.print(table)


@sources_app.command("report")
def report(job: Annotated[str, typer.Argument(help="the job's id")],
           outcome: Annotated[str | None, typer.Option(help="only this outcome (failed, refused, created, ...)")]
           = None) -> None:
    """A job's per-item report."""
    from healthgate.federation import service

    sessions = _sessions()
    try:
        job_id = uuid.UUID(job)
    except ValueError:
        _fail(Invalid("bad job id", [FieldError("job", "a UUID")]))
        return
    try:
        with sessions() as s:
            ctx = Context(s, SYSTEM, SystemClock())
            found, _ = service.get_job(ctx, job_id)
            items, total = service.job_items(ctx, job_id, outcome=outcome, limit=10_000)
    except HealthgateError as exc:
        _fail(exc)
        return
    console.print(f"{found.state}: {_counts(found.counts or {})}" + (f"\n{found.error}" if found.error else ""),
                  highlight=False)
    for i in items:
        console.print(f"{i.outcome:9} {i.remote_id}: {i.message or ''}", highlight=False)
    if total > len(items):
        console.print(f"... {total - len(items)} more")
