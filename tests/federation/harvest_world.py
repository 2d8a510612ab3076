"""A small world for harvest tests: a custodian team with a metadata manager, a stranger in another team, an
alliance admin; helpers to add a source and run it to its end as the CLI does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion
from healthgate.context import Context
from healthgate.federation import jobs, service
from healthgate.federation.models import HarvestJob, HarvestJobItem
from healthgate.identity import actors, users
from healthgate.identity import service as identity
from healthgate.identity.models import Membership, User
from healthgate.identity.permissions import SYSTEM, Role


@dataclass
class World:
    clock: Any
    teams: dict[str, uuid.UUID] = field(default_factory=dict)
    people: dict[str, uuid.UUID] = field(default_factory=dict)

    def ctx(self, session: Session, who: str) -> Context:
        if who == "system":
            return Context(session, SYSTEM, self.clock)
        user = session.get(User, self.people[who])
        return Context(session, actors.actor_for_user(session, user), self.clock)


def build(sessions, clock) -> World:
    w = World(clock)
    with sessions.begin() as s:
        sys_ctx = Context(s, SYSTEM, clock)
        for key, name in (("A", "Alpha Health Data"), ("B", "Beta Biobank")):
            w.teams[key] = identity.get_or_create_team(sys_ctx, name, member_group="ALLIANCE").id
        for who, admin, roles in (("manager_A", False, {"A": Role.METADATA_MANAGER}),
                                  ("editor_A", False, {"A": Role.METADATA_EDITOR}),
                                  ("manager_B", False, {"B": Role.TEAM_ADMIN}), ("admin", True, {})):
            user = users.create_user(sys_ctx, f"{who.lower()}@example.org", who.replace("_", " ").title(),
                                     is_admin=admin, verified=True)
            for team, role in roles.items():
                s.add(Membership(team_id=w.teams[team], user_id=user.id, role=role.value, created_at=clock.now()))
            w.people[who] = user.id
    return w


def add_source(db, w: World, url: str, *, name: str = "alpha-fma", team: str = "A", **kw: Any) -> uuid.UUID:
    kw.setdefault("kind", "hdruk-fma")
    settings = {"retries": 0, "timeout": 5, **kw.pop("settings", {})}
    with db.sessions.begin() as s:
        return service.create_source(w.ctx(s, "manager_A" if team == "A" else "manager_B"), w.teams[team],
                                     name=name, url=url, settings=settings, **kw).id


def harvest(db, w: World, source_id: uuid.UUID, **kw: Any) -> HarvestJob:
    with db.sessions.begin() as s:
        job_id = service.enqueue(w.ctx(s, "manager_A"), source_id).id
    return jobs.run_now(db.sessions, w.clock, job_id, **kw)


def report(db, job_id: uuid.UUID) -> dict[str, tuple[str, str | None]]:
    with db.sessions() as s:
        return {i.remote_id: (i.outcome, i.message) for i in s.scalars(
            select(HarvestJobItem).where(HarvestJobItem.job_id == job_id).order_by(HarvestJobItem.id))}


def catalogue_state(db, team_id: uuid.UUID) -> dict[str, tuple[str, int]]:
    """Title -> (status, latest version) of the team's datasets."""
    with db.sessions() as s:
        rows = s.execute(select(DatasetVersion.title, Dataset.status, Dataset.latest_version)
                         .join(Dataset, (Dataset.id == DatasetVersion.dataset_id)
                               & (Dataset.latest_version == DatasetVersion.number))
                         .where(Dataset.team_id == team_id)).all()
    return {t: (str(st.value if isinstance(st, DatasetStatus) else st), v) for t, st, v in rows}


def count(db, model) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0
