"""A database that cannot be opened is one clear line naming it (password hidden) and a non-zero exit."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from healthgate.cli import app

UNREACHABLE = "postgresql+psycopg://nobody:s3cret-pw@127.0.0.1:1/x"


@pytest.mark.parametrize("argv", [
    ["db", "upgrade"],
    ["tokens", "create", "ci", "--user", "ci@example.org"],
    ["tokens", "list", "--user", "ci@example.org"],
    ["orgs", "create", "Somewhere"],
    ["teams", "list"],
    ["export", "--format", "hdruk", "--out", "OUT"],
    ["import", "IN"],
    ["demo", "--no-serve"],
    ["serve", "--port", "1"],
])
def test_unreachable_postgresql_is_one_line(argv, tmp_path, monkeypatch):
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "in.json").write_text('{"summary": {"title": "x"}}')
    argv = [str(tmp_path / "out") if a == "OUT" else str(tmp_path / "in.json") if a == "IN" else a for a in argv]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "postgresql+psycopg://nobody:***@127.0.0.1:1/x" in lines[0]
    assert "s3cret-pw" not in result.output + result.stderr
    assert "Connection refused" in lines[0] or "connection" in lines[0].lower()
    assert "Traceback" not in result.output + result.stderr


def test_sqlite_file_that_cannot_be_created_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"  # a file where a directory should be: fails for root too
    blocker.write_text("")
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", f"sqlite:///{blocker}/healthgate.db")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"sqlite:///{blocker}/healthgate.db" in lines[0], result.stderr
    assert "unable to open database file" in lines[0]


def test_data_directory_that_cannot_be_made_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.delenv("HEALTHGATE_DATABASE_URL", raising=False)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(blocker / "data"))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(blocker / "data") in lines[0], result.stderr
