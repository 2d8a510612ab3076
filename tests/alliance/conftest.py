"""A small world for the alliance's tests: the access harness's two custodian teams (A, B, with public datasets)
plus a team C of a new custodian with no dataset yet, each team linked to an organisation, team C with a team
admin; helpers to add register entries, datasets and applications at a given London time."""

from __future__ import annotations

from datetime import date

import pytest

from healthgate.access import service as access
from healthgate.access import templates as access_templates
from healthgate.alliance import service as alliance
from healthgate.catalogue import service as catalogue
from healthgate.identity import organisations, users
from healthgate.identity import service as identity
from healthgate.identity.models import Membership, Team
from healthgate.identity.permissions import Role
from healthgate.register import service as register
from tests.access.clocks.conftest import move_to
from tests.access.harness import Q1, Q2, build, document

ROR_ALPHA = "02wnqcb97"
ROR_GAMMA = "052gg0110"


@pytest.fixture
def world(db, clock):
    return alliance_world(db.sessions, build(db.sessions, clock))


def alliance_world(sessions, w):
    """The access harness's world ``w`` made the alliance's: organisations for teams A and B, team C of Gamma."""
    with sessions.begin() as s:
        ctx = w.ctx(s, "system")
        alpha = organisations.create_organisation(ctx, "Alpha Health Data", ror_id=ROR_ALPHA, country="GB")
        beta = organisations.create_organisation(ctx, "Beta Biobank", country="GB")
        gamma = organisations.create_organisation(ctx, "Gamma Health Board", ror_id=ROR_GAMMA, country="GB")
        delta = organisations.create_organisation(ctx, "Delta Research Fund", country="GB")
        for key, org in (("A", alpha), ("B", beta)):
            organisations.set_team_organisation(ctx, s.get(Team, w.teams[key]), org)
        w.teams["C"] = identity.create_team(ctx, "Gamma Data Team", organisation_id=gamma.id).id
        admin_c = users.create_user(ctx, "admin_c@example.org", "Admin C", verified=True)
        s.add(Membership(team_id=w.teams["C"], user_id=admin_c.id, role=Role.TEAM_ADMIN.value, created_at=ctx.now()))
        w.people["admin_C"] = admin_c.id
        access_templates.save_draft(ctx, w.teams["C"], [{"id": Q1}, {"id": Q2}])
        access_templates.publish(ctx, w.teams["C"])
        w.orgs = {"alpha": alpha.id, "beta": beta.id, "gamma": gamma.id, "delta": delta.id}
    return w


def add_member(db, w, org: str, member_type: str = "data-custodian", joined: str = "2026-01-15", **kw):
    with db.sessions.begin() as s:
        return alliance.create(w.ctx(s, "admin"), alliance.MemberData(
            str(w.orgs[org]), member_type, date.fromisoformat(joined), **kw)).id


def entry_data(title: str = "Heart study", *, sector: str | None = "Academic Institute", access_type: str = "TRE",
               project_id: str | None = None) -> register.EntryData:
    return register.EntryData(organisation_name="University of Somewhere", project_title=title,
                              lay_summary="A summary", public_benefit="Better care", approval_date=date(2026, 1, 5),
                              access_type=access_type, datasets=[register.DatasetRef("Some dataset")],
                              organisation_sector=sector, project_id=project_id)


def register_entry(db, w, clock, team: str, when: str, **kw):
    """A published register entry of ``team``'s register, made at ``when`` (London time): its id."""
    move_to(clock, when)
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "system")
        entry = register.create(ctx, w.teams[team], entry_data(**kw))
        register.publish(ctx, entry.id)
        return entry.id


def publish_dataset(db, w, clock, team: str, when: str, title: str = "Gamma cohort"):
    move_to(clock, when)
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "system")
        ds, _ = catalogue.create_draft(ctx, w.teams[team], document(title))
        catalogue.publish(ctx, ds.id)
        w.datasets[title] = ds.id
        return ds.id


def apply_to(db, w, clock, when: str, dataset_ids, title: str = "A study"):
    move_to(clock, when)
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "applicant")
        app_id = access.create(ctx, list(dataset_ids), title=title).id
        access.run(ctx, app_id, "submit")
        return app_id
