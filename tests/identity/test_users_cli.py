"""``healthgate users create|set-password|unlock`` and the demo administrator's password."""

from __future__ import annotations

import stat

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from healthgate.audit.models import AuditEvent
from healthgate.cli import DEMO_ADMIN, _demo_admin_password, app
from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import throttle, users
from healthgate.identity.models import User
from healthgate.identity.permissions import ANONYMOUS

PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli(db, tmp_path, monkeypatch):
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    return lambda *argv, input=None: runner.invoke(app, list(argv), input=input)


def _signs_in(db, email, password) -> bool:
    with db.sessions.begin() as s:
        return users.authenticate(Context(s, ANONYMOUS, SystemClock()), email, password).user is not None


def test_users_create_with_a_piped_password(cli, db):
    result = cli("users", "create", "Root@Example.org", "--name", "Root Admin", "--admin", "--password-stdin",
                 input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output + result.stderr
    assert "created alliance admin Root@Example.org" in result.output and PASSWORD not in result.output
    with db.sessions() as s:
        user = s.scalar(select(User))
        assert user.is_admin and user.email_verified_at is not None and user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in str([e.data for e in s.scalars(select(AuditEvent))])
    assert _signs_in(db, "root@example.org", PASSWORD)
    again = cli("users", "create", "root@example.org", "--name", "Twice", "--password-stdin", input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already registered" in again.stderr


def test_users_create_prompts_twice_and_refuses_a_weak_password(cli, db):
    result = cli("users", "create", "ann@example.org", "--name", "Ann", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output + result.stderr
    assert _signs_in(db, "ann@example.org", PASSWORD)
    weak = cli("users", "create", "bob@example.org", "--name", "Bob", "--password-stdin", input="short\n")
    assert weak.exit_code == 1 and "password: use at least 10 characters" in weak.stderr
    with db.sessions() as s:
        assert s.scalar(select(User.id).where(User.email == "bob@example.org")) is None


def test_set_password_and_unlock(cli, db):
    cli("users", "create", "ann@example.org", "--name", "Ann", "--password-stdin", input=PASSWORD + "\n")
    with db.sessions.begin() as s:
        for _ in range(throttle.MAX_FAILURES):
            users.authenticate(Context(s, ANONYMOUS, SystemClock()), "ann@example.org", "wrong password")
    assert not _signs_in(db, "ann@example.org", PASSWORD)
    assert cli("users", "unlock", "ann@example.org").exit_code == 0
    assert _signs_in(db, "ann@example.org", PASSWORD)
    result = cli("users", "set-password", "ann@example.org", "--password-stdin", input="another good passphrase\n")
    assert result.exit_code == 0, result.stderr
    assert _signs_in(db, "ann@example.org", "another good passphrase") and not _signs_in(db, "ann@example.org", PASSWORD)
    missing = cli("users", "unlock", "nobody@example.org")
    assert missing.exit_code == 1 and "no account" in missing.stderr


def test_the_demo_admin_gets_a_password_kept_in_the_data_dir(db, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=db.url)
    password = _demo_admin_password(db.sessions, settings)
    path = tmp_path / "admin-password"
    assert path.read_text() == password and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _demo_admin_password(db.sessions, settings) == password  # made once
    assert _signs_in(db, DEMO_ADMIN, password)
    with db.sessions() as s:
        assert s.scalar(select(User.is_admin).where(User.email == DEMO_ADMIN))
