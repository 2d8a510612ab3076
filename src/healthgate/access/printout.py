"""A whole application on paper, for a data access committee: its datasets, its parts and their states,
every section's questions and answers (those the answers show), the attached files and the decisions with
their conditions. Read by whoever may read the application; a custodian sees the decisions and reasons of its
own parts, the applicant side those of every part."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from healthgate.access import attachments, forms
from healthgate.access import service as access
from healthgate.access.lifecycle import Part
from healthgate.access.models import Attachment
from healthgate.catalogue.models import DatasetVersion
from healthgate.context import Context
from healthgate.identity.models import Team


@dataclass(frozen=True)
class PartLine:
    team: str
    part: Part
    shows_decision: bool  # the reader may see this part's reason and conditions


@dataclass(frozen=True)
class Printout:
    view: access.View
    datasets: list[tuple[str, str]]  # (title, custodian team)
    parts: list[PartLine]
    form: forms.ApplicationForm
    files: list[Attachment]
    printed_at: datetime


def printable(ctx: Context, application_id: uuid.UUID) -> Printout:
    view = access.get(ctx, application_id)
    state = view.state
    teams = {t.id: t.name for t in ctx.session.scalars(select(Team).where(Team.id.in_(list(state.teams))))} \
        if state.teams else {}
    titles: dict[uuid.UUID, str] = {}
    ids = [d for d, _ in state.datasets]
    if ids:
        for dataset_id, title, number in ctx.session.execute(
                select(DatasetVersion.dataset_id, DatasetVersion.title, DatasetVersion.number)
                .where(DatasetVersion.dataset_id.in_(ids)).order_by(DatasetVersion.number)):
            titles[dataset_id] = title  # the latest version's title wins
    datasets = [(titles.get(d, str(d)), teams.get(t, str(t))) for d, t in state.datasets]
    parts = [PartLine(team=teams.get(t, str(t)), part=p, shows_decision=view.applicant_side or t in view.teams)
             for t, p in state.parts.items()]
    form = forms.visible_answers(forms.form_for(ctx, state))
    return Printout(view=view, datasets=datasets, parts=parts, form=form,
                    files=attachments.list_for(ctx, application_id), printed_at=ctx.now())
