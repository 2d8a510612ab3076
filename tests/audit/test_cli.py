"""``healthgate audit verify|export`` on both databases."""

from __future__ import annotations

import csv
import uuid

import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner

from healthgate.audit import service as audit
from healthgate.audit.models import AuditEvent
from healthgate.cli import app
from healthgate.context import Context
from healthgate.identity.permissions import SYSTEM, Actor
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def cli(db, tmp_path, monkeypatch, clock):
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEALTHGATE_SECRET_KEY", TEST_SECRET_KEY)
    ada = Actor(name="Ada Lovelace", user_id=uuid.uuid4())
    with db.sessions.begin() as s:
        for i in range(4):
            clock.advance(hours=1)
            audit.record(Context(s, ada if i % 2 else SYSTEM, clock), "team.created", "team", f"t{i}", {"i": i})
    return lambda *argv: CliRunner().invoke(app, list(argv))


def test_verify_an_intact_log_prints_a_checkpoint(cli):
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output + result.stderr
    assert "audit log intact: 4 entries, head #4" in result.stdout
    checkpoint = result.stdout.split("--checkpoint later): ")[1].split()[0]
    assert checkpoint.startswith("4:")
    assert cli("audit", "verify", "--checkpoint", checkpoint).exit_code == 0
    bad = cli("audit", "verify", "--checkpoint", "4")
    assert bad.exit_code == 2 and "SEQ:HASH" in bad.stderr


def test_verify_names_the_tampered_entry_and_fails(cli, db):
    with db.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(data={"i": 99}))
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert "entry #2" in result.stderr and "was edited" in result.stderr and "NOT intact" in result.stderr
    with db.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(data={"i": 1}))
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "the newest entry #4 missing (deleted)" in result.stderr


def test_export_writes_csv_with_filters(cli, tmp_path):
    out = tmp_path / "audit.csv"
    result = cli("audit", "export", "--output", str(out), "--actor", "ada")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(out.open(newline="")))
    assert [r["subject_id"] for r in rows] == ["t1", "t3"] and {r["actor"] for r in rows} == {"Ada Lovelace"}
    everything = cli("audit", "export")
    assert everything.exit_code == 0 and len(everything.stdout.splitlines()) == 5
    since = cli("audit", "export", "--since", "2026-01-15T12:00", "--until", "2026-01-15T13:00:00+00:00")
    assert [r["subject_id"] for r in csv.DictReader(since.stdout.splitlines())] == ["t2"]
    bad = cli("audit", "export", "--since", "last week")
    assert bad.exit_code == 1 and "ISO 8601" in bad.stderr
