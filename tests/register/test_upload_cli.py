"""``healthgate register-file``: upload (dry run, then --apply) and export, with errors by row and column."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from healthgate.cli import app
from tests.access.harness import build
from tests.conftest import TEST_SECRET_KEY
from tests.register.upload_files import csv_bytes, row


@pytest.fixture
def cli(db, clock, tmp_path, monkeypatch):
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEALTHGATE_SECRET_KEY", TEST_SECRET_KEY)
    build(db.sessions, clock, templates=False)
    return lambda *argv: CliRunner().invoke(app, list(argv))


def test_upload_dry_run_apply_and_export(cli, tmp_path):
    good = tmp_path / "register.csv"
    good.write_bytes(csv_bytes([row(1), row(2, datasets="Alpha cardiovascular cohort study")]))
    r = cli("register-file", "upload", "alpha-health-data", str(good))
    assert r.exit_code == 0, r.output
    assert "2 rows: 2 would be created" in r.output and "nothing written" in r.output
    assert "fuzzy match" in r.output and "--confirm" in r.output
    r = cli("register-file", "upload", "alpha-health-data", str(good), "--apply", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["counts"]["created"] == 2
    out = tmp_path / "export.json"
    r = cli("register-file", "export", str(out), "--team", "alpha-health-data", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_bytes())["count"] == 2
    again = tmp_path / "export.csv"
    assert cli("register-file", "export", str(again)).exit_code == 0
    r = cli("register-file", "upload", "alpha-health-data", str(again), "--apply")
    assert r.exit_code == 0 and "0 created, 0 updated, 2 unchanged" in r.output


def test_bad_rows_exit_non_zero(cli, tmp_path):
    bad = tmp_path / "register.csv"
    bad.write_bytes(csv_bytes([row(1, approval_date="31/02/2024")]))
    r = cli("register-file", "upload", "alpha-health-data", str(bad), "--apply")
    assert r.exit_code == 1
    assert "row 2, column 'Latest approval date*': '31/02/2024' is not a date" in r.output
