"""Teams: one team per normalised name, readable unique slugs in any script, addressed by id, and creating one
concurrently never fails its callers (on both databases)."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from healthgate.audit.models import AuditEvent
from healthgate.catalogue import service
from healthgate.catalogue.models import Dataset
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.errors import Forbidden, Invalid, NotFound
from healthgate.identity import service as identity
from healthgate.identity.models import Team
from healthgate.identity.permissions import ANONYMOUS, SYSTEM, Actor, Role
from tests.conftest import load_fixture


def _team(db, clock, name: str, actor: Actor = SYSTEM) -> Team:
    with db.sessions.begin() as s:
        return identity.get_or_create_team(Context(s, actor, clock), name, member_group=None)


def test_names_in_any_script_are_different_teams_with_readable_slugs(db, clock):
    greek, chinese = _team(db, clock, "Ελληνική ομάδα"), _team(db, clock, "中文团队")
    ae, a_e = _team(db, clock, "A&E Team"), _team(db, clock, "A E Team")
    assert len({greek.id, chinese.id, ae.id, a_e.id}) == 4
    assert (greek.slug, chinese.slug) == ("ελληνική-ομάδα", "中文团队")
    assert (ae.slug, a_e.slug) == ("a-e-team", "a-e-team-2")
    assert _team(db, clock, "a e  TEAM ").id == a_e.id  # the same name, normalised
    assert _team(db, clock, "ＡＥ team").id not in {ae.id, a_e.id}
    assert _team(db, clock, "STRASSE").id == _team(db, clock, "Straße").id  # case folding
    nameless = [_team(db, clock, n) for n in ("!!!", "???")]
    assert [t.slug for t in nameless] == ["team", "team-2"]
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Team)) == 8
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "team.created")) == 8


def test_resolve_team_by_id_slug_or_name(db, clock):
    team = _team(db, clock, "A&E Team")
    other = _team(db, clock, "A E Team")
    with db.sessions() as s:
        for ref in (team.id, str(team.id), "a-e-team", " a&e  team", "A&E Team"):
            assert identity.resolve_team(Context(s, ANONYMOUS, SystemClock()), ref).id == team.id, ref
        assert identity.resolve_team(Context(s, ANONYMOUS, SystemClock()), "a-e-team-2").id == other.id
        for ref in ("nobody", str(uuid.uuid4()), uuid.uuid4()):
            with pytest.raises(NotFound):
                identity.resolve_team(Context(s, ANONYMOUS, SystemClock()), ref)
    with db.sessions.begin() as s:  # a team's id names it when creating datasets too; an unknown id is no name
        assert identity.get_or_create_team(Context(s, SYSTEM, clock), str(team.id), member_group=None).id == team.id
        with pytest.raises(NotFound):
            identity.get_or_create_team(Context(s, SYSTEM, clock), str(uuid.uuid4()), member_group=None)


@pytest.mark.parametrize("name", ["", "   ", "x" * 301, "bad\x00name", "bell\x07", "ﷺ" * 20])
def test_bad_team_names_are_refused(db, clock, name):
    with db.sessions.begin() as s, pytest.raises(Invalid) as exc:
        identity.get_or_create_team(Context(s, SYSTEM, clock), name, member_group=None)
    assert exc.value.errors[0].path == "team"


def test_creating_a_team_needs_team_manage(db, clock):
    team = _team(db, clock, "SAIL")
    manager = Actor(name="m", roles={team.id: frozenset({Role.METADATA_MANAGER})})
    assert _team(db, clock, "sail", manager).id == team.id
    with pytest.raises(Forbidden):
        _team(db, clock, "Another team", manager)


def test_concurrent_creates_under_one_new_team_never_fail(db, clock):
    """Twenty threads, each with its own session, create different datasets under one new team name."""
    n = 20
    engine = make_engine(db.url, pool_size=n, max_overflow=0)  # a connection per thread, closed afterwards
    sessions = make_sessionmaker(engine)
    barrier = threading.Barrier(n)
    failures: list[BaseException] = []
    teams: list[uuid.UUID] = []

    def create(i: int) -> None:
        doc = load_fixture("hdruk-4.0.0-minimal.json")
        doc["identifier"] = str(uuid.uuid4())
        doc["summary"]["title"] = f"Dataset {i}"
        barrier.wait()
        try:
            with sessions.begin() as s:
                team = identity.get_or_create_team(Context(s, SYSTEM, clock), "Brand New Team", member_group="G")
                service.create_draft(Context(s, SYSTEM, clock), team.id, doc)
                teams.append(team.id)
        except BaseException as exc:  # noqa: BLE001  (every failure is counted)
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert failures == []
    assert len(set(teams)) == 1 and len(teams) == n
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Team)) == 1
        assert s.scalar(select(func.count()).select_from(Dataset)) == n
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "team.created")) == 1
