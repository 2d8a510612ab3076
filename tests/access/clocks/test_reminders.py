"""Reminders: review phases near and past their due date to the assigned reviewers, parts due soon and overdue
to the team's access managers; each sent once however often it runs (by the CLI, by the worker's loop)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from healthgate.access import reminders
from healthgate.access.models import Reminder
from healthgate.audit.models import AuditEvent
from healthgate.errors import Forbidden
from healthgate.outbox.models import OutboxMessage
from healthgate.outbox.periodic import Job, Periodic, jobs
from healthgate.outbox.worker import Worker
from tests.access.clocks.conftest import act, move_to, submitted


def _reminders(s) -> list[dict]:
    """The reminders in the outbox (the lifecycle's own notifications are queued there too)."""
    return [m for m in s.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id))
            if m.get("subject", "").startswith("Reminder")]


def _mail(db) -> list[tuple[str, str]]:
    with db.sessions() as s:
        return sorted((m["to"], m["subject"]) for m in _reminders(s))


def test_reminders_are_sent_once(db, world, clock):
    w = world
    app_id = submitted(db, w, clock, "2026-01-05T09:00", datasets=("A1",), title="Cohort")
    act(db, w, clock, "2026-01-06T09:00", "manager_A", app_id, "assign_reviewers",
        {"reviewers": [str(w.people["reviewer_A"])], "due": "2026-01-16", "phase": "committee"})
    move_to(clock, "2026-01-08T09:00")  # 6 working days before the phase is due; clock at 3 of 60
    assert reminders.run(db.sessions, clock).total == 0
    move_to(clock, "2026-01-14T09:00")  # phase due in 2 working days
    sent = reminders.run(db.sessions, clock, "https://gateway.example")
    assert sent.sent == {"phase_due_soon": 1}
    mail = _mail(db)
    assert mail == [("reviewer_a@example.org", f"Reminder: your committee of {_ref(db, app_id)} is due on 16 January 2026")]
    with db.sessions() as s:
        (reminder,) = _reminders(s)
        body = reminder["body"]
        assert "https://gateway.example/workspace/teams/" in body
    again = reminders.run(db.sessions, clock)
    assert (again.total, again.already) == (0, 1)
    move_to(clock, "2026-01-19T09:00")  # past the phase's due date: one more, once
    assert reminders.run(db.sessions, clock).sent == {"phase_overdue": 1}
    assert reminders.run(db.sessions, clock).total == 0
    # a reviewer who gave their review is not reminded of the next phase; a new assignment starts afresh
    act(db, w, clock, "2026-01-19T10:00", "manager_A", app_id, "assign_reviewers",
        {"reviewers": [str(w.people["reviewer_A"]), str(w.people["manager_A"])], "due": "2026-01-20",
         "phase": "panel"})
    act(db, w, clock, "2026-01-19T11:00", "reviewer_A", app_id, "review", {"recommendation": "approve"})
    assert reminders.run(db.sessions, clock).sent == {"phase_due_soon": 1}
    assert [to for to, subject in _mail(db) if "panel" in subject] == ["manager_a@example.org"]
    assert len(_mail(db)) == 3
    move_to(clock, "2026-03-24T09:00")  # decision standard 60, due soon at 10 left: 56 working days
    assert reminders.run(db.sessions, clock).sent == {"clock_due_soon": 1, "phase_overdue": 1}  # panel overdue
    move_to(clock, "2026-04-02T09:00")  # 62 working days (3 April Good Friday not reached yet): overdue
    assert reminders.run(db.sessions, clock).sent == {"clock_overdue": 1}
    assert reminders.run(db.sessions, clock).total == 0
    mail = _mail(db)
    assert [to for to, _ in mail].count("manager_a@example.org") == 4
    assert {to for to, _ in mail} == {"manager_a@example.org", "reviewer_a@example.org"}
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Reminder)) == 6
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "access.reminder_sent")) == 6


def test_paused_and_decided_parts_get_no_reminders_and_dry_run_sends_nothing(db, world, clock):
    w = world
    returned = submitted(db, w, clock, "2026-01-05T09:00", datasets=("A1",))
    act(db, w, clock, "2026-01-06T09:00", "manager_A", returned, "return", {"reason": "more"})
    late = submitted(db, w, clock, "2026-01-05T09:00", datasets=("B1",))
    move_to(clock, "2026-02-02T09:00")  # the B part: 20 working days without a first response
    dry = reminders.run(db.sessions, clock, dry_run=True)
    assert dry.sent == {"clock_overdue": 1} and _mail(db) == []
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Reminder)) == 0
    assert reminders.run(db.sessions, clock).sent == {"clock_overdue": 1}
    assert [to for to, _ in _mail(db)] == ["manager_b@example.org"]
    act(db, w, clock, "2026-02-02T10:00", "manager_B", late, "approve")
    assert reminders.run(db.sessions, clock).total == 0


def test_only_the_system_or_an_admin_sends_reminders(db, world):
    w = world
    with db.sessions.begin() as s, pytest.raises(Forbidden):
        reminders.send_due(w.ctx(s, "manager_A"))


def test_worker_loop_and_cli_send_them(db, world, clock, monkeypatch):
    w = world
    submitted(db, w, clock, "2026-01-05T09:00", datasets=("A1",))
    move_to(clock, "2026-01-14T09:00")  # 7 working days: first response due soon
    runs = []

    def counted(sessions, clk):
        runs.append(reminders.run(sessions, clk, "http://x"))

    periodic = Periodic([Job("access reminders", 3600, counted)])
    periodic.tick(db.sessions, clock)
    periodic.tick(db.sessions, clock)  # not again within the hour
    assert [r.sent for r in runs] == [{"clock_due_soon": 1}]
    assert "access reminders" in [j.name for j in jobs()]  # the worker runs it

    class Quiet:
        def send(self, email):
            pass

        def close(self):
            pass

        def describe(self):
            return "quiet"

    stop = threading.Event()
    worker = Worker(db.sessions, Quiet(), clock=clock)  # type: ignore[arg-type]
    move_to(clock, "2026-01-20T09:00")  # 11 working days: overdue
    thread = threading.Thread(target=worker.run, args=(stop, 0.05))
    thread.start()
    try:
        for _ in range(200):
            with db.sessions() as s:
                if s.scalar(select(func.count()).select_from(Reminder)) == 2:
                    break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        worker.wake()
        thread.join(10)
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Reminder)) == 2
    from healthgate.cli import app

    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    out = CliRunner().invoke(app, ["access", "reminders", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "would send 0 reminder(s)" in out.output and "already sent before" in out.output


def _ref(db, app_id) -> str:
    from healthgate.access.models import Application

    with db.sessions() as s:
        return s.get(Application, app_id).reference
