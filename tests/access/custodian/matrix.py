"""The custodian pages' forms for tests/catalogue/test_workspace_matrix.py: path -> (personas allowed, prepare).
``prepare(people)`` seeds a submitted application (or an enquiry) on the matrix's team and returns the path
parameters and the form to post."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable

from sqlalchemy import select

from healthgate.access import enquiries, templates
from healthgate.access import service as access
from healthgate.catalogue import service as catalogue
from healthgate.context import Context
from healthgate.identity import actors, users
from healthgate.identity.models import Membership
from healthgate.identity.permissions import SYSTEM, Role
from tests.access.harness import Q1
from tests.conftest import load_fixture

TEAM_REF = "wessex-heart"
MANAGE = {Role.TEAM_ADMIN.value, Role.ACCESS_MANAGER.value, "alliance admin"}
READ = MANAGE | {Role.REVIEWER.value}
# An alliance admin handles any team's part but reviews only when assigned (the matrix assigns team members).
REVIEW = {Role.TEAM_ADMIN.value, Role.ACCESS_MANAGER.value, Role.REVIEWER.value}
BASE = "/workspace/teams/{team_ref}/applications/{application_id}"


def _person(s, people, role: Role | None = None) -> uuid.UUID:
    ctx = Context(s, SYSTEM, people.clock)
    user = users.create_user(ctx, f"{uuid.uuid4().hex[:10]}@example.org", "Ann Applicant", verified=True)
    if role is not None:
        s.add(Membership(team_id=people.team, user_id=user.id, role=role.value, created_at=people.clock.now()))
        s.flush()
    return user.id


def _as(s, people, user_id: uuid.UUID) -> Context:
    return Context(s, actors.actor_for_user(s, users.get_user(Context(s, SYSTEM, people.clock), user_id)),
                   people.clock)


def _public_dataset(s, people) -> uuid.UUID:
    ctx = Context(s, SYSTEM, people.clock)
    doc = copy.deepcopy(load_fixture("hdruk-4.0.0-minimal.json")) | {"identifier": str(uuid.uuid4())}
    dataset, _ = catalogue.create_draft(ctx, people.team, {"schemaVersion": "4.0.0", "metadata": doc})
    catalogue.publish(ctx, dataset.id)
    return dataset.id


def _application(people, *, assign: bool = False) -> tuple[str, int]:
    """A submitted application for a public dataset of the team; ``assign``: every reviewer, access manager
    and team admin of the team assigned to review it. Returns its id and version."""
    with people.db.sessions.begin() as s:
        dataset = _public_dataset(s, people)
        system = Context(s, SYSTEM, people.clock)
        if templates.published(system, people.team) is None:  # else the default form: the bank's required questions
            templates.save_draft(system, people.team, [{"id": Q1}])
            templates.publish(system, people.team)
        ctx = _as(s, people, _person(s, people))
        app = access.create(ctx, [dataset], title="Matrix study")
        state = access.run(ctx, app.id, "submit").state
        if assign:
            _person(s, people, Role.REVIEWER)  # at least one, before any persona of the team exists
            roles = [Role.REVIEWER.value, Role.ACCESS_MANAGER.value, Role.TEAM_ADMIN.value]
            members = sorted({str(u) for u in s.scalars(select(Membership.user_id).where(
                Membership.team_id == people.team, Membership.role.in_(roles)))})
            state = access.run(Context(s, SYSTEM, people.clock), app.id, "assign_reviewers",
                               {"reviewers": members}).state
        return str(app.id), state.version


def _command(data: dict[str, str], *, assign: bool = False) -> Callable:
    def prepare(people) -> tuple[dict[str, str], dict]:
        app_id, version = _application(people, assign=assign)
        form = {**data, "version": str(version)}
        if "reviewers" in form:
            with people.db.sessions.begin() as s:
                form["reviewers"] = str(_person(s, people, Role.REVIEWER))
        return {"team_ref": TEAM_REF, "application_id": app_id}, {"data": form}
    return prepare


def _message(people) -> tuple[dict[str, str], dict]:
    app_id, _ = _application(people)
    return {"team_ref": TEAM_REF, "application_id": app_id}, {"data": {"body": "A note", "audience": "team"}}


def _enquiry(people) -> tuple[dict[str, str], dict]:
    with people.db.sessions.begin() as s:
        dataset = _public_dataset(s, people)
        enquiry = enquiries.open_enquiry(_as(s, people, _person(s, people)), [dataset], "Feasible?", "Is it?")
        return {"team_ref": TEAM_REF, "enquiry_id": str(enquiry.id)}, {"data": {"body": "Yes."}}


CASES: dict[str, tuple[set[str], Callable]] = {
    BASE + "/return": (MANAGE, _command({"reason": "Say more"})),
    BASE + "/assign": (MANAGE, _command({"reviewers": "", "phase": "review"})),
    BASE + "/review": (REVIEW, _command({"recommendation": "approve"}, assign=True)),
    BASE + "/approve": (MANAGE, _command({})),
    BASE + "/approve-with-conditions": (MANAGE, _command({"conditions": "Outputs checked"})),
    BASE + "/reject": (MANAGE, _command({"reason": "Out of scope"})),
    BASE + "/close": (MANAGE, _command({})),
    BASE + "/messages": (READ, _message),
    "/workspace/teams/{team_ref}/enquiries/{enquiry_id}/messages": (READ, _enquiry),
}
