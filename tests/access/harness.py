"""A small world for access-request tests: two custodian teams with public datasets, an applicant, a
collaborator, a stranger, and each team's access manager and reviewer; each person's Context on demand."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from healthgate.access import templates as access_templates
from healthgate.catalogue import service as catalogue
from healthgate.clock import SystemClock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity import actors, users
from healthgate.identity import service as identity
from healthgate.identity.models import Membership, User
from healthgate.identity.permissions import SYSTEM, Role
from healthgate.migrate import upgrade
from tests.conftest import load_fixture

# Two optional questions of the bank that teams A and B ask (their published form templates), for tests that
# save answers; a team without a template would ask every required question of the bank.
Q1 = "safeproject.project-details.title-project"  # a text field (at least 3 characters)
Q2 = "safedata.other-datasets-intention-link-data.summarise-risks-mitigations-considered"  # a text area


def document(title: str) -> dict:
    doc = copy.deepcopy(load_fixture("hdruk-4.0.0-minimal.json"))
    doc["summary"]["title"] = title
    doc["identifier"] = None
    return doc


@dataclass
class World:
    clock: object
    teams: dict[str, uuid.UUID] = field(default_factory=dict)  # "A", "B"
    datasets: dict[str, uuid.UUID] = field(default_factory=dict)  # "A1", "A2", "B1"
    people: dict[str, uuid.UUID] = field(default_factory=dict)

    def ctx(self, session: Session, who: str) -> Context:
        """``who``: applicant, collaborator, stranger, manager_A, reviewer_A, manager_B, reviewer_B, admin,
        or "system"."""
        if who == "system":
            return Context(session, SYSTEM, self.clock)
        user = session.get(User, self.people[who])
        return Context(session, actors.actor_for_user(session, user), self.clock)


def build(sessions, clock, *, templates: bool = True) -> World:
    """Create the world in its own transaction and return the ids. ``templates``: teams A and B publish a form
    asking Q1 and Q2, neither required (else they use the default form: the bank's required questions)."""
    w = World(clock=clock)
    with sessions.begin() as s:
        sys_ctx = Context(s, SYSTEM, clock)
        for name, full in (("A", "Alpha Health Data"), ("B", "Beta Biobank")):
            w.teams[name] = identity.get_or_create_team(sys_ctx, full, member_group="ALLIANCE").id
        for key, team, title in (("A1", "A", "Alpha cardiovascular cohort"), ("A2", "A", "Alpha renal registry"),
                                 ("B1", "B", "Beta genomes")):
            ds, _ = catalogue.create_draft(sys_ctx, w.teams[team], document(title))
            catalogue.publish(sys_ctx, ds.id)
            w.datasets[key] = ds.id
        people = {
            "applicant": (False, {}), "collaborator": (False, {}), "stranger": (False, {}), "admin": (True, {}),
            "manager_A": (False, {"A": [Role.ACCESS_MANAGER]}), "reviewer_A": (False, {"A": [Role.REVIEWER]}),
            "manager_B": (False, {"B": [Role.ACCESS_MANAGER]}), "reviewer_B": (False, {"B": [Role.REVIEWER]}),
        }
        for who, (admin, roles) in people.items():
            user = users.create_user(sys_ctx, f"{who.lower()}@example.org", who.replace("_", " ").title(),
                                     is_admin=admin, verified=True)
            for team, held in roles.items():
                for role in held:
                    s.add(Membership(team_id=w.teams[team], user_id=user.id, role=role.value,
                                     created_at=clock.now()))
            w.people[who] = user.id
        s.flush()
        if templates:
            for team in w.teams.values():
                access_templates.save_draft(sys_ctx, team, [{"id": Q1}, {"id": Q2}])
                access_templates.publish(sys_ctx, team)
    return w


@contextmanager
def on_disk(data_dir: Path, password: str, *who: str, make: Callable[..., Any] = build
            ) -> Iterator[tuple[Settings, sessionmaker[Session], Any]]:
    """The world (``make(sessions, clock)``: this module's ``build``, or another world's with the same people
    and ``ctx``) in a fresh SQLite database of ``data_dir`` on the system clock, for a site served in a real
    browser: ``who`` can sign in with ``password``. Yields the site's settings, a sessionmaker on its database
    (closed when the block ends) and the world."""
    settings = Settings(data_dir=data_dir)
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        clock = SystemClock()
        world = make(sessions, clock)
        with sessions.begin() as s:
            ctx = Context(s, SYSTEM, clock)
            for person in who:
                users.set_password(ctx, s.get(User, world.people[person]), password)
        yield settings, sessions, world
    finally:
        engine.dispose()
