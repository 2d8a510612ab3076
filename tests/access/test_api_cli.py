"""``healthgate access verify|rebuild`` on both databases: a projection row that disagrees with its event log is
named, and rebuilt from the log."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from healthgate.access import service as access
from healthgate.access.models import Application, ApplicationPart
from healthgate.cli import app
from tests.access.harness import build
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def cli(db, tmp_path, monkeypatch):
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEALTHGATE_SECRET_KEY", TEST_SECRET_KEY)
    return lambda *argv: CliRunner().invoke(app, list(argv))


def test_verify_names_a_drifted_projection_and_rebuild_repairs_it(cli, db, clock):
    w = build(db.sessions, clock)
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]]).id
        access.run(w.ctx(s, "applicant"), app_id, "submit")
        access.create(w.ctx(s, "applicant"), [w.datasets["A2"]])
    ok = cli("access", "verify")
    assert ok.exit_code == 0, ok.output + ok.stderr
    assert "2 applications checked, 0 differ" in ok.stdout
    with db.sessions.begin() as s:
        s.execute(update(Application).where(Application.id == app_id).values(status="approved"))
        s.execute(update(ApplicationPart).where(ApplicationPart.team_id == w.teams["A"]).values(state="rejected"))
    bad = cli("access", "verify")
    assert bad.exit_code == 1 and str(app_id) in bad.stderr
    assert "status: stored 'approved', log says 'submitted'" in bad.stderr and "parts" in bad.stderr
    dry = cli("access", "rebuild", "--dry-run")
    assert dry.exit_code == 0 and "would rebuild 1" in dry.stdout
    assert cli("access", "verify", "--application", str(app_id)).exit_code == 1
    fixed = cli("access", "rebuild")
    assert fixed.exit_code == 0 and "rebuilt 1" in fixed.stdout
    assert cli("access", "verify").exit_code == 0
    with db.sessions.begin() as s:
        assert s.get(Application, app_id).status == "submitted"
