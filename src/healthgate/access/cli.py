"""``healthgate access verify|rebuild``: fold every application's event log and compare it with (or rewrite) the
projection rows that queues and dashboards read. The log is the truth; the rows are derived from it."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from healthgate.access import lifecycle as lc
from healthgate.access import reminders_cli
from healthgate.access import service as access
from healthgate.access.models import Application, ApplicationDataset, ApplicationPart
from healthgate.context import Context

app = typer.Typer(help="Data access requests: check or rebuild the projections of the event logs; send the due "
                       "reminders.", no_args_is_help=True)
app.command("reminders")(reminders_cli.reminders)  # healthgate access reminders


def differences(ctx: Context, application_id: uuid.UUID) -> list[str]:
    """How the application's projection rows differ from the fold of its log (empty: they agree). A log whose
    sequence numbers have gaps is reported too."""
    rows = access.event_rows(ctx, application_id)
    seqs = [r.seq for r in rows]
    out = [] if seqs == list(range(1, len(seqs) + 1)) else [f"event sequence {seqs[:20]} has gaps"]
    state = access.load_state(ctx, application_id)
    row = ctx.session.get(Application, application_id)
    assert row is not None
    for name, stored, folded in (("status", row.status, state.status.value), ("version", row.version, state.version),
                                 ("title", row.title, state.title), ("answers", row.answers, dict(state.answers)),
                                 ("purpose", row.purpose, dict(state.purpose)),
                                 ("collaborators", sorted(row.collaborators or []),
                                  sorted(str(c) for c in state.collaborators))):
        if stored != folded:
            out.append(f"{name}: stored {str(stored)[:80]!r}, log says {str(folded)[:80]!r}")
    parts = {p.team_id: p.state for p in ctx.session.scalars(
        select(ApplicationPart).where(ApplicationPart.application_id == application_id))}
    if parts != {t: p.state.value for t, p in state.parts.items()}:
        out.append(f"parts: stored {parts}, log says { {t: p.state.value for t, p in state.parts.items()} }")
    datasets = {(d.dataset_id, d.team_id) for d in ctx.session.scalars(
        select(ApplicationDataset).where(ApplicationDataset.application_id == application_id))}
    if datasets != set(state.datasets):
        out.append("datasets differ from the log")
    return out


def _each(only: str | None) -> tuple[list[uuid.UUID], sessionmaker[Session]]:
    from healthgate import cli
    from healthgate.config import Settings
    from healthgate.db import make_sessionmaker

    sessions = make_sessionmaker(cli._engine(Settings()))
    with sessions.begin() as s:
        ids = [uuid.UUID(only)] if only else list(s.scalars(select(Application.id).order_by(Application.created_at)))
    return ids, sessions


Only = Annotated[str | None, typer.Option("--application", help="only this application's id")]


@app.command("verify")
def verify(application: Only = None) -> None:
    """Fold every application's log and compare it with the stored projections; exit 1 on any difference."""
    from healthgate import cli
    from healthgate.context import system

    ids, sessions = _each(application)
    bad = 0
    for app_id in ids:
        with sessions.begin() as s:
            found = differences(system(s), app_id)
        if found:
            bad += 1
            cli.err.print(f"[red]differs[/red] {app_id}: " + "; ".join(found), highlight=False)
    cli.console.print(f"{len(ids)} applications checked, {bad} differ from their logs")
    if bad:
        raise typer.Exit(code=1)


@app.command("rebuild")
def rebuild(application: Only = None,
            dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would change")] = False) -> None:
    """Rewrite the projections of every application whose rows differ from its log (one transaction each)."""
    from healthgate import cli
    from healthgate.context import system

    ids, sessions = _each(application)
    fixed = 0
    for app_id in ids:
        with sessions.begin() as s:
            ctx = system(s)
            if differences(ctx, app_id):
                fixed += 1
                if not dry_run:
                    state: lc.State = access.rebuild(ctx, app_id)
                    row = s.get(Application, app_id)
                    if row is not None:
                        row.version = state.version
    verb = "would rebuild" if dry_run else "rebuilt"
    cli.console.print(f"{len(ids)} applications checked; {verb} {fixed}")
