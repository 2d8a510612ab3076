"""``healthgate alliance members|obligations|reminders`` on both databases (the CLI runs on the system clock:
the member joined long enough ago that every obligation is overdue whatever today is)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from healthgate.alliance.models import ObligationReminder
from healthgate.cli import app
from healthgate.outbox.models import OutboxMessage
from tests.alliance.conftest import ROR_GAMMA
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def cli(db, tmp_path, monkeypatch):
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEALTHGATE_SECRET_KEY", TEST_SECRET_KEY)
    return lambda *argv: CliRunner().invoke(app, list(argv))


def test_members_obligations_and_reminders(cli, db, world):
    bad = cli("alliance", "members", "add", "nowhere", "--joined", "2025-01-01")
    assert bad.exit_code == 1 and "organisation" in bad.output
    assert cli("alliance", "members", "add", ROR_GAMMA, "--joined", "2025-13-01").exit_code == 2
    added = cli("alliance", "members", "add", ROR_GAMMA, "--joined", "2025-01-01")
    assert added.exit_code == 0, added.output
    assert "wave 2025 Q1" in added.output
    listed = cli("alliance", "members", "list")
    assert listed.exit_code == 0 and "Gamma Health Board" in listed.output
    shown = cli("alliance", "obligations", "--status", "overdue")
    assert shown.exit_code == 0 and shown.output.count("overdue") >= 3
    assert cli("alliance", "obligations", "--status", "late").exit_code == 2
    dry = cli("alliance", "reminders", "--dry-run")
    assert dry.exit_code == 0 and "would send 3 reminder(s) (overdue 3)" in dry.output
    with db.sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(ObligationReminder)) == 0
    sent = cli("alliance", "reminders")
    assert sent.exit_code == 0 and "sent 3 reminder(s)" in sent.output
    again = cli("alliance", "reminders")
    assert "sent 0 reminder(s); 3 already sent before" in again.output
    with db.sessions.begin() as s:
        to = s.scalars(select(OutboxMessage.payload)).all()
        assert [p["to"] for p in to] == ["admin_c@example.org"] * 3
