"""``healthgate alliance ...``: members (list, add), their obligations as of today, and the obligation reminders
(the worker also sends them periodically). Acts as the system (an alliance admin's powers)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console

from healthgate.config import Settings

app = typer.Typer(help="The alliance: members, their obligations and the reminders about them.",
                  no_args_is_help=True)
members_app = typer.Typer(help="The alliance's members.", no_args_is_help=True)
app.add_typer(members_app, name="members")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _sessions(settings: Settings) -> Any:
    from healthgate.outbox.cli import _sessions as make

    return make(settings)


def _rows(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Tab-separated lines with a header (readable, and easy to cut, sort or load elsewhere)."""
    for row in [header, *rows]:
        console.print("\t".join(v.replace("\t", " ").replace("\n", " ") for v in row), highlight=False,
                      markup=False)


@app.command("reminders")
def reminders(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be sent, send nothing")] = False,
) -> None:
    """Email the team admins of members whose obligations are due soon or overdue. Each reminder goes out once,
    however often this runs."""
    from healthgate.alliance import reminders as service

    settings = Settings()
    result = service.run(_sessions(settings), base_url=settings.base_url, dry_run=dry_run)
    verb = "would send" if dry_run else "sent"
    for item in result.items:
        console.print(f"  {item}", highlight=False)
    stages = ", ".join(f"{k} {n}" for k, n in sorted(result.sent.items()))
    console.print(f"{verb} {result.total} reminder(s){f' ({stages})' if stages else ''}; {result.already} already "
                  f"sent before; {result.nobody} with no team admin to tell", highlight=False)


@app.command("obligations")
def obligations(
    status: Annotated[str | None, typer.Option(help="only this status (met, due, due-soon, overdue, "
                                                    "not-applicable)")] = None,
) -> None:
    """Every member's obligations as of today: status, due date and evidence."""
    from healthgate.alliance import obligations as ob
    from healthgate.context import system
    from healthgate.db import transaction
    from healthgate.errors import Invalid

    with transaction(_sessions(Settings())) as session:
        board = ob.board(system(session))
        try:
            rows = ob.rows(board, status=status, sort="status")
        except Invalid as exc:
            for e in exc.errors:
                err.print(f"{e.path}: {e.message}", highlight=False)
            raise typer.Exit(code=2) from None
        _rows(("organisation", "obligation", "status", "due_on", "evidence"), [
            (r.organisation.name, r.obligation.key, r.obligation.status,
             r.obligation.due_on.isoformat() if r.obligation.due_on else "",
             "; ".join(f"{e.label}{' (' + e.on.isoformat() + ')' if e.on else ''}" for e in r.obligation.evidence)
             or r.obligation.note) for r in rows])
        counts = ", ".join(f"{k} {n}" for k, n in board.counts().items() if n)
        console.print(f"{len(board.members)} members as of {board.today.isoformat()}: {counts or 'no obligations'}")


@members_app.command("list")
def list_members(everyone: Annotated[bool, typer.Option("--all", help="also hidden members and those that left")]
                 = False) -> None:
    """The members, newest announcement wave first."""
    from healthgate.alliance import service
    from healthgate.context import system
    from healthgate.db import transaction

    with transaction(_sessions(Settings())) as session:
        rows = service.members(system(session), everyone=everyone)
        _rows(("organisation", "ror_id", "member_type", "join_date", "wave", "left_on", "id"), [
            (o.name, o.ror_id or "", m.member_type, m.join_date.isoformat(), m.wave or "",
             m.left_on.isoformat() if m.left_on else "", str(m.id)) for m, o in rows])


@members_app.command("add")
def add_member(
    organisation: Annotated[str, typer.Argument(help="the organisation: its id, ROR id or slug")],
    member_type: Annotated[str, typer.Option("--type", help="data-custodian, non-custodian-partner, "
                                                            "industry-association, funder, patient-organisation, "
                                                            "other")] = "data-custodian",
    joined: Annotated[str, typer.Option("--joined", help="the join date, YYYY-MM-DD")] = "",
    wave: Annotated[str | None, typer.Option(help="the announcement wave, e.g. '2026 Q3' (default: the join "
                                                  "date's quarter)")] = None,
) -> None:
    """Add a member."""
    from healthgate.alliance import service
    from healthgate.context import system
    from healthgate.db import transaction
    from healthgate.errors import HealthgateError

    try:
        join_date = date.fromisoformat(joined) if joined else None
    except ValueError:
        err.print(f"--joined: {joined!r} is not a date (YYYY-MM-DD)", highlight=False)
        raise typer.Exit(code=2) from None
    try:
        with transaction(_sessions(Settings())) as session:
            member = service.create(system(session), service.MemberData(organisation, member_type, join_date, wave))
            console.print(f"added {member.id} ({member.member_type}, joined {member.join_date}, wave {member.wave})",
                          highlight=False)
    except HealthgateError as exc:
        err.print(f"[red]{exc.detail}[/red]", highlight=False)
        for e in exc.errors:
            err.print(f"  {e.path}: {e.message}", highlight=False)
        raise typer.Exit(code=1) from None
