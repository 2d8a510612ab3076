"""``healthgate serve``'s in-process worker (started and stopped by the app's lifespan) and the commands."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from healthgate.app import create_app
from healthgate.cli import app as cli
from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import transaction
from healthgate.identity.permissions import SYSTEM
from healthgate.outbox import service
from healthgate.outbox.models import OutboxMessage
from tests.outbox.harness import SmtpSink


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "healthgate-outbox-worker"]


def _settings(db, tmp_path, **kw) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db.url, **kw)


def test_serve_runs_the_worker_in_process_and_a_commit_wakes_it(db, tmp_path):
    with SmtpSink() as sink:
        # a poll of one minute: only the wake-up on commit can deliver within the test's few seconds
        app = create_app(_settings(db, tmp_path, worker="inline", worker_poll_seconds=60, smtp_host="127.0.0.1",
                                   smtp_port=sink.port, smtp_starttls=False))
        assert _worker_threads() == []
        with TestClient(app):
            assert len(_worker_threads()) == 1
            time.sleep(0.3)  # the worker's first look at the outbox found it empty; it now waits a minute
            with transaction(app.state.sessions) as session:
                service.enqueue_email(Context(session, SYSTEM, SystemClock()), "ada@example.org", "Hello",
                                      "Sent from serve.")
            deadline = time.monotonic() + 15
            while sink.count() < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sink.count() == 1
        assert _worker_threads() == []  # stopped with the app
    with db.sessions() as session:
        assert session.scalars(select(OutboxMessage.status)).all() == ["sent"]


def test_worker_off_starts_no_thread(db, tmp_path):
    app = create_app(_settings(db, tmp_path, worker="off"))
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
        assert _worker_threads() == []


def _queue(db, n: int, to: str = "ada@example.org") -> None:
    with transaction(db.sessions) as session:
        ctx = Context(session, SYSTEM, SystemClock())
        for i in range(n):
            service.enqueue_email(ctx, to, f"Message {i}", f"Body {i}")


def _env(db, tmp_path, monkeypatch, **extra: str) -> None:
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path))
    for key, value in extra.items():
        monkeypatch.setenv(f"HEALTHGATE_{key.upper()}", value)


def test_worker_once_delivers_what_is_due_with_the_console_sender(db, tmp_path, monkeypatch):
    _queue(db, 2)
    _env(db, tmp_path, monkeypatch, smtp_host="")
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.count("----- email (outbox ") == 2 and "Subject: Message 1" in result.stdout
    assert "started (console" in result.stderr and "sent 2, retried 0, dead 0, lost 0" in result.stderr
    result = CliRunner().invoke(cli, ["outbox", "status"])
    assert result.exit_code == 0 and "pending 0, sent 2, dead 0" in result.stdout


def test_outbox_commands_list_and_retry_dead_messages(db, tmp_path, monkeypatch):
    _queue(db, 2, to="nobody@example.org")
    with SmtpSink() as sink:
        sink.refuse = {"nobody@": "550 5.1.1 no such user"}
        _env(db, tmp_path, monkeypatch, smtp_host="127.0.0.1", smtp_port=str(sink.port), smtp_starttls="false")
        result = CliRunner().invoke(cli, ["worker", "--once"])
        assert result.exit_code == 0 and "sent 0, retried 0, dead 2" in result.stderr, result.stderr
        result = CliRunner().invoke(cli, ["outbox", "dead"])
        assert result.exit_code == 0 and "550 5.1.1 no such user" in result.stdout
        assert CliRunner().invoke(cli, ["outbox", "retry"]).exit_code == 2  # ids or --all
        refused = CliRunner().invoke(cli, ["outbox", "retry", "12345"])
        assert refused.exit_code == 1 and "no dead outbox message with this id" in refused.stderr
        result = CliRunner().invoke(cli, ["outbox", "retry", "--all"])
        assert result.exit_code == 0 and "2 dead messages queued again" in result.stdout
        sink.refuse = {}
        result = CliRunner().invoke(cli, ["worker", "--once"])
        assert "sent 2," in result.stderr
    assert sink.count() == 2
