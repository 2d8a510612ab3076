"""``healthgate worker`` (deliver the outbox) and ``healthgate outbox status|dead|retry`` (operate it)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console

from healthgate import context
from healthgate.config import Settings
from healthgate.db import make_sessionmaker, transaction
from healthgate.errors import HealthgateError
from healthgate.outbox import service
from healthgate.outbox.senders import sender_from_settings, webhook_sender_from_settings
from healthgate.outbox.worker import Tally, Worker, policy_from_settings

app = typer.Typer(help="The outbox of messages to deliver (email, webhooks).", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def register(root: typer.Typer) -> None:
    """Add ``healthgate worker`` and ``healthgate outbox ...`` to the root command."""
    root.command("worker")(worker)
    root.add_typer(app, name="outbox")


def _sessions(settings: Settings) -> Any:
    from healthgate.cli import _engine  # the root command's database opening (one clear line on failure)

    return make_sessionmaker(_engine(settings))


def worker(
    once: Annotated[bool, typer.Option("--once", help="deliver what is due now, then exit")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=1000, help="messages claimed at a time")] = 20,
) -> None:
    """Deliver outbox messages (email, webhooks) until stopped (SIGTERM or Ctrl-C).

    Any number of workers may run on one database; none sends a message another has sent."""
    settings = Settings()
    sessions = _sessions(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run = Worker(sessions, sender_from_settings(settings),
                 policy=policy_from_settings(settings, batch_size=batch_size),
                 webhooks=webhook_sender_from_settings(settings), base_url=settings.base_url)
    stop = threading.Event()
    result: list[Tally] = []

    def body() -> None:
        result.append(run.drain(stop) if once else run.run(stop, settings.worker_poll_seconds))

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()
        run.wake()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        err.print(f"outbox worker {run.name} started ({run.sender.describe()})", highlight=False)
        thread = threading.Thread(target=body, name="healthgate-outbox-worker")
        thread.start()
        while thread.is_alive():
            thread.join(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    tally = result[0] if result else Tally()
    err.print(f"outbox worker {run.name} stopped: sent {tally.sent}, retried {tally.retried}, dead {tally.dead}, "
              f"lost {tally.lost}", highlight=False)
    if not result:
        raise typer.Exit(code=1)


@app.command("status")
def status() -> None:
    """How many messages are pending, sent and dead."""
    sessions = _sessions(Settings())
    with transaction(sessions) as session:
        counts = service.counts(context.system(session))
    oldest = f" (oldest queued {counts.oldest_pending:%Y-%m-%d %H:%M:%S} UTC)" if counts.oldest_pending else ""
    console.print(f"pending {counts.pending}{oldest}, sent {counts.sent}, dead {counts.dead}", highlight=False)


@app.command("dead")
def dead(limit: Annotated[int, typer.Option(min=1, help="most messages to list")] = 100) -> None:
    """List dead messages with their last error."""
    sessions = _sessions(Settings())
    with transaction(sessions) as session:
        rows = service.dead_messages(context.system(session), limit)
        lines = [f"{row.id}\t{row.kind}\tto {_recipient(row.payload)}\t{row.attempts} attempts\t"
                 f"queued {row.created_at:%Y-%m-%d %H:%M}\t{row.last_error or ''}" for row in rows]
    for line in lines:
        console.print(line, highlight=False, markup=False)
    if not lines:
        console.print("no dead messages")


def _recipient(payload: Any) -> str:
    to = payload.get("to") if isinstance(payload, dict) else None
    return ", ".join(to) if isinstance(to, list) else str(to or "-")


@app.command("retry")
def retry(
    ids: Annotated[list[int] | None, typer.Argument(help="ids of dead messages to send again")] = None,
    all_: Annotated[bool, typer.Option("--all", help="send every dead message again")] = False,
) -> None:
    """Send dead messages again (their attempts start from zero)."""
    if bool(ids) == all_:
        err.print("give the ids of dead messages, or --all")
        raise typer.Exit(code=2)
    sessions = _sessions(Settings())
    try:
        with transaction(sessions) as session:
            done = service.retry_dead(context.system(session), None if all_ else list(ids or []))
    except HealthgateError as exc:
        from healthgate.cli import _fail

        _fail(exc)
        return
    console.print(f"{len(done)} dead message{'s' if len(done) != 1 else ''} queued again", highlight=False)
