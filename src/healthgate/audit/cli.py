"""``healthgate audit verify|export``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from healthgate.errors import FieldError, Invalid

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("not a time", [FieldError(name, f"{value!r}: give an ISO 8601 date or time")]) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@app.command("verify")
def verify(
    checkpoint: Annotated[list[str] | None, typer.Option(
        help="SEQ:HASH printed by an earlier verify, kept elsewhere: the log must still hold it (repeatable)")]
    = None,
) -> None:
    """Check every entry against the keyed chain and the head; name each entry that was edited, inserted or
    deleted. Exit code 1 when anything is wrong. Prints a checkpoint to keep outside the database."""
    from healthgate import cli
    from healthgate.audit.verify import parse_checkpoint, verify_log
    from healthgate.config import Settings
    from healthgate.db import make_sessionmaker, transaction

    try:
        kept = [parse_checkpoint(c) for c in checkpoint or []]
    except ValueError as exc:
        cli.err.print(f"[red]error[/red] --checkpoint: {exc}")
        raise typer.Exit(code=2) from None
    sessions = make_sessionmaker(cli._engine(Settings()))
    with transaction(sessions) as session:
        report = verify_log(session, checkpoints=kept)
    for p in report.problems[:50]:
        cli.err.print(f"[red]tampered[/red] {p.message}", highlight=False)
    if len(report.problems) > 50:
        cli.err.print(f"... and {len(report.problems) - 50} more problems")
    if report.ok:
        cli.console.print(f"audit log intact: {report.checked} entries, head #{report.head_seq}")
    else:
        first = next((p for p in report.problems if p.seq is not None), report.problems[0])
        cli.err.print(f"audit log NOT intact: {len(report.problems)} problems in {report.checked} entries; "
                      f"first: {first.message}", highlight=False)
    if report.checkpoint:
        cli.console.print(f"checkpoint (keep it elsewhere; pass it to --checkpoint later): {report.checkpoint}")
    if not report.ok:
        raise typer.Exit(code=1)


@app.command("export")
def export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="a file (default: standard output)")] = None,
    actor: Annotated[str | None, typer.Option(help="a person's id, or text in the actor's name")] = None,
    action: Annotated[str | None, typer.Option(help="an action, or all of a noun: 'dataset.'")] = None,
    subject_type: Annotated[str | None, typer.Option(help="e.g. dataset, team, user")] = None,
    subject_id: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="from this time (ISO 8601, UTC if no offset)")] = None,
    until: Annotated[str | None, typer.Option(help="before this time")] = None,
) -> None:
    """Export the log (or the events matching the filters) as CSV, oldest first."""
    from healthgate import cli, context
    from healthgate.audit import service as audit
    from healthgate.config import Settings
    from healthgate.db import make_sessionmaker, transaction
    from healthgate.errors import HealthgateError
    from healthgate.interop import audit_csv

    try:
        filters = audit.Filters(actor=actor, action=action, subject_type=subject_type, subject_id=subject_id,
                                since=_when(since, "since"), until=_when(until, "until"))
    except HealthgateError as exc:
        cli._fail(exc)
    sessions = make_sessionmaker(cli._engine(Settings()))
    with transaction(sessions) as session:
        events = audit.iter_events(context.system(session), filters)
        if output is None:
            count = audit_csv.write(events, sys.stdout)
        else:
            with output.open("w", newline="", encoding="utf-8") as f:
                count = audit_csv.write(events, f)
    if output is not None:
        cli.console.print(f"exported {count} events to {output}")
