"""Names to show beside ids on the researcher's pages: a dataset's current title and custodian, a team's name,
a person's name. Read-only lookups, so pages never query the database themselves."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion
from healthgate.context import Context
from healthgate.identity.models import Team, User


@dataclass(frozen=True)
class DatasetLabel:
    id: uuid.UUID
    title: str
    team_id: uuid.UUID
    team_name: str
    public: bool  # published and not archived: may be requested


def datasets(ctx: Context, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, DatasetLabel]:
    """The latest public title and custodian of each dataset (missing ids are left out)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    rows = ctx.session.execute(
        select(Dataset.id, Dataset.status, Dataset.team_id, Team.name, DatasetVersion.title)
        .join(Team, Team.id == Dataset.team_id)
        .outerjoin(DatasetVersion, (DatasetVersion.dataset_id == Dataset.id)
                   & (DatasetVersion.number == Dataset.latest_version))
        .where(Dataset.id.in_(wanted)))
    return {i: DatasetLabel(id=i, title=title or "(untitled dataset)", team_id=team_id, team_name=team,
                            public=status == DatasetStatus.ACTIVE and title is not None)
            for i, status, team_id, team, title in rows}


def teams(ctx: Context, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    return dict(ctx.session.execute(select(Team.id, Team.name).where(Team.id.in_(wanted))).all())


def people(ctx: Context, ids: Iterable[uuid.UUID | str]) -> dict[uuid.UUID, str]:
    wanted = list(dict.fromkeys(i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in ids))
    if not wanted:
        return {}
    return dict(ctx.session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())
