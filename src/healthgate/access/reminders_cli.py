"""``healthgate access reminders`` (registered in ``access.cli``): send the due access-request reminders now
(the worker also sends them periodically)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from healthgate.config import Settings

console = Console(soft_wrap=True)


def reminders(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be sent, send nothing")] = False,
) -> None:
    """Email reminders for review phases near or past their due date and requests due soon or overdue against
    the alliance's standards. Each reminder goes out once, however often this runs."""
    from healthgate.access import reminders as service
    from healthgate.outbox.cli import _sessions

    settings = Settings()
    result = service.run(_sessions(settings), base_url=settings.base_url, dry_run=dry_run)
    verb = "would send" if dry_run else "sent"
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.sent.items()))
    console.print(f"{verb} {result.total} reminder(s){f' ({kinds})' if kinds else ''}; "
                  f"{result.already} already sent before", highlight=False)
