"""``healthgate orgs|teams|tokens``: the same service operations from the command line; errors are the list of
problems and exit code 1 (on both databases)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from healthgate.cli import app
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.identity import actors, users
from healthgate.identity.permissions import SYSTEM


@pytest.fixture
def run(db, tmp_path, monkeypatch):
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def invoke(*argv: str, code: int = 0):
        result = runner.invoke(app, list(argv))
        assert result.exit_code == code, (argv, result.output, result.stderr)
        return result
    return invoke


def test_orgs_and_teams(run, db):
    bad = run("orgs", "create", "Oxford", "--ror", "052gg0111", code=1)
    assert "ror_id: the check digits are wrong" in bad.stderr
    assert "ror_id: a ROR id starts with 0" in run("orgs", "create", "Oxford", "--ror", "152gg0110", code=1).stderr
    assert "sector: one of" in run("orgs", "create", "Oxford", "--sector", "Charity", code=1).stderr
    made = json.loads(run("orgs", "create", "University of Oxford", "--ror", "https://ror.org/052gg0110",
                          "--sector", "Academic Institute", "--country", "gb", "--json").stdout)
    assert (made["ror_id"], made["country"]) == ("052gg0110", "GB")
    run("orgs", "create", "Oxford Uni", "--country", "GB")
    created = run("teams", "create", "Oxford BRC", "--org", "oxford-uni").stdout
    assert "created team Oxford BRC (oxford-brc" in created and "of Oxford Uni" in created
    assert "name: Oxford BRC (oxford-brc)" in run("teams", "create", "oxford brc", code=1).stderr
    merged = run("orgs", "merge", "oxford-uni", "--into", "052gg0110").stdout
    assert "merged Oxford Uni into University of Oxford" in merged and "Oxford BRC" in merged
    teams = json.loads(run("teams", "list", "--json").stdout)
    assert [(t["name"], t["organisation"]) for t in teams] == [("Oxford BRC", "University of Oxford")]
    orgs = json.loads(run("orgs", "list", "--json").stdout)
    assert [o["name"] for o in orgs] == ["University of Oxford"]
    assert "merged" in run("orgs", "merge", "oxford-uni", "--into", "052gg0110", code=1).stderr


def test_members_and_tokens(run, db):
    with db.sessions.begin() as s:
        users.create_user(Context(s, SYSTEM, SystemClock()), "ada@example.org", "Ada", verified=True)
    run("teams", "create", "SAIL")
    assert "email: no such account" in run("teams", "add-member", "SAIL", "nobody@example.org", "--role", "admin",
                                           code=1).stderr
    assert "role: one of" in run("teams", "add-member", "SAIL", "ada@example.org", "--role", "owner",
                                 code=1).stderr
    assert "is now Metadata editor of SAIL" in run("teams", "add-member", "sail", "ada@example.org",
                                                   "--role", "metadata_editor").stdout
    listed = json.loads(run("teams", "list", "--members", "--json").stdout)
    assert listed[0]["members"] == [{"email": "ada@example.org", "name": "Ada", "roles": ["team.metadata_editor"]}]
    token = run("tokens", "create", "upload", "--user", "ada@example.org", "--scope", "write",
                "--team", "SAIL").stdout.strip()
    assert token.startswith("hg_")
    run("teams", "create", "Other")
    assert "teams: the owner holds no role in team" in run("tokens", "create", "x", "--user", "ada@example.org",
                                                           "--scope", "write", "--team", "Other", code=1).stderr
    assert "team: no team with this id" in run("tokens", "create", "x", "--user", "ada@example.org",
                                               "--scope", "write", "--team", "Nowhere", code=1).stderr
    rows = json.loads(run("tokens", "list", "--user", "ada@example.org", "--json").stdout)
    assert len(rows) == 1 and rows[0]["scope"] == "write" and rows[0]["expires_at"] is not None
    assert token not in run("tokens", "list", "--user", "ada@example.org").stdout
    with db.sessions.begin() as s:
        assert actors.actor_for_token(s, token, SystemClock()).authenticated
    assert "revoked token 'upload'" in run("tokens", "revoke", rows[0]["id"]).stdout
    with db.sessions.begin() as s:
        assert not actors.actor_for_token(s, token, SystemClock()).authenticated
    assert "token_id:" in run("tokens", "revoke", "not-an-id", code=1).stderr
    never = run("tokens", "create", "svc", "--user", "ada@example.org", "--expires-in-days", "0").stdout.strip()
    rows = json.loads(run("tokens", "list", "--user", "ada@example.org", "--json").stdout)
    assert {r["name"]: r["expires_at"] for r in rows}["svc"] is None and never.startswith("hg_")
