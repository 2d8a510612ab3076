"""Organisations: ROR ids checked by their ISO 7064 MOD 97-10 digits, sectors and countries from their lists,
merging duplicates keeps every link; on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from healthgate.audit.models import AuditEvent
from healthgate.context import Context
from healthgate.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from healthgate.identity import organisations, users
from healthgate.identity import service as teams
from healthgate.identity.models import Organisation, Team, User
from healthgate.identity.organisations import checked_ror
from healthgate.identity.permissions import ANONYMOUS, SYSTEM, Actor, Role


@pytest.mark.parametrize("value,canonical", [
    ("052gg0110", "052gg0110"),  # University of Oxford
    ("02jx3x895", "02jx3x895"),  # University College London
    ("https://ror.org/013meh722", "013meh722"),  # University of Cambridge, as a URL
    (" 013MEH722 ", "013meh722"),
])
def test_real_ror_ids_are_accepted(value, canonical):
    assert checked_ror(value) == canonical


@pytest.mark.parametrize("value,says", [
    ("052gg0111", "check digits are wrong"),
    ("02jx3x859", "check digits are wrong"),
    ("152gg0110", "starts with 0"),
    ("052gi0110", "'i' is not"),
    ("052gg01", "is 9 characters"),
    ("052gg01101", "is 9 characters"),
    ("052gg01x0", "last 2 characters are the check digits"),
    ("", "give a ROR id"),
])
def test_bad_ror_ids_say_which_part_is_wrong(value, says):
    with pytest.raises(Invalid) as exc:
        checked_ror(value)
    assert exc.value.errors[0].path == "ror_id"
    assert says in exc.value.errors[0].message, exc.value.errors[0].message


def _org(db, clock, name, **kw) -> Organisation:
    with db.sessions.begin() as s:
        org = organisations.create_organisation(Context(s, SYSTEM, clock), name, **kw)
        s.expunge(org)
        return org


def test_create_checks_every_field_and_records_the_event(db, clock):
    org = _org(db, clock, "  University of  Oxford ", ror_id="https://ror.org/052gg0110",
               sector="academic institute", country="gb", website="https://www.ox.ac.uk")
    assert (org.name, org.ror_id, org.sector, org.country, org.slug) == (
        "University of Oxford", "052gg0110", "Academic Institute", "GB", "university-of-oxford")
    with db.sessions.begin() as s, pytest.raises(Invalid) as exc:
        organisations.create_organisation(Context(s, SYSTEM, clock), "", ror_id="052gg0111", sector="Charity",
                                          country="XX", website="ftp://x")
    assert [e.path for e in exc.value.errors] == ["name", "ror_id", "sector", "country", "website"]
    assert "check digits are wrong" in exc.value.errors[1].message
    assert "XX is not an ISO 3166-1" in exc.value.errors[3].message
    with db.sessions.begin() as s, pytest.raises(Conflict) as conflict:  # a ROR id names one organisation
        organisations.create_organisation(Context(s, SYSTEM, clock), "Oxford again", ror_id="052gg0110")
    assert "University of Oxford" in conflict.value.errors[0].message
    assert _org(db, clock, "University of Oxford").slug == "university-of-oxford-2"  # names may repeat
    with db.sessions() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.created",
                                                  AuditEvent.subject_id == str(org.id)))
        assert event is not None and event.data["ror_id"] == "052gg0110"


def test_only_alliance_admins_manage_organisations(db, clock):
    team = _team(db, clock, "SAIL")
    admin_of_team = Actor(name="ta", roles={team.id: frozenset({Role.TEAM_ADMIN})})
    with db.sessions.begin() as s:
        with pytest.raises(Unauthorized):
            organisations.create_organisation(Context(s, ANONYMOUS, clock), "X")
        with pytest.raises(Forbidden):
            organisations.create_organisation(Context(s, admin_of_team, clock), "X")
        organisations.create_organisation(Context(s, Actor(name="a", is_admin=True), clock), "X")


def _team(db, clock, name, org=None) -> Team:
    with db.sessions.begin() as s:
        team = teams.create_team(Context(s, SYSTEM, clock), name, organisation_id=org.id if org else None)
        s.expunge(team)
        return team


def test_lookup_by_id_ror_or_slug_and_listing(db, clock):
    ox = _org(db, clock, "University of Oxford", ror_id="052gg0110")
    ucl = _org(db, clock, "University College London", ror_id="02jx3x895")
    with db.sessions() as s:
        ctx = Context(s, ANONYMOUS, clock)
        for ref in (ox.id, str(ox.id), "052gg0110", "https://ror.org/052gg0110", "university-of-oxford"):
            assert organisations.get_organisation(ctx, ref).id == ox.id
        with pytest.raises(NotFound):
            organisations.get_organisation(ctx, "013meh722")
        page = organisations.list_organisations(ctx)
        assert [o.name for o in page.items] == ["University College London", "University of Oxford"]
        assert [o.id for o in organisations.list_organisations(ctx, q="college").items] == [ucl.id]
        assert [o.id for o in organisations.list_organisations(ctx, q="052gg0110").items] == [ox.id]
        assert organisations.list_organisations(ctx, per_page=1, page=2).items[0].id == ox.id


def test_merge_keeps_every_link(db, clock):
    dup = _org(db, clock, "Oxford Uni", ror_id="052gg0110", sector="Academic Institute", country="GB")
    keep = _org(db, clock, "University of Oxford", website="https://www.ox.ac.uk")
    older = _org(db, clock, "Univ. Oxford")
    dup_team, keep_team = _team(db, clock, "Oxford BRC", dup), _team(db, clock, "Oxford Trust", keep)
    with db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        person = users.create_user(ctx, "ada@example.org", "Ada")
        person.affiliation_id = dup.id
        organisations.merge(ctx, s.get(Organisation, older.id), s.get(Organisation, dup.id))  # an earlier merge
    with db.sessions.begin() as s:
        survivor = organisations.merge(Context(s, SYSTEM, clock), s.get(Organisation, dup.id),
                                       s.get(Organisation, keep.id))
        assert (survivor.id, survivor.ror_id, survivor.sector, survivor.country, survivor.website) == (
            keep.id, "052gg0110", "Academic Institute", "GB", "https://www.ox.ac.uk")
    with db.sessions() as s:
        ctx = Context(s, ANONYMOUS, clock)
        assert {t.id for t in organisations.teams_of(ctx, s.get(Organisation, keep.id))} == {dup_team.id,
                                                                                             keep_team.id}
        assert s.scalar(select(User.affiliation_id).where(User.email_key == "ada@example.org")) == keep.id
        merged = s.get(Organisation, dup.id)
        assert (merged.merged_into_id, merged.ror_id, merged.merged_at) == (keep.id, None, clock.now())
        assert s.get(Organisation, older.id).merged_into_id == keep.id  # chains collapse onto the survivor
        assert organisations.get_organisation(ctx, "052gg0110").id == keep.id  # the ROR id moved over
        assert organisations.current(ctx, merged).id == keep.id
        assert [o.id for o in organisations.list_organisations(ctx).items] == [keep.id]
        assert len(organisations.list_organisations(ctx, include_merged=True).items) == 3
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.merged",
                                                  AuditEvent.subject_id == str(dup.id)))
        assert event.data["moved"] == {"teams.organisation_id": 1, "users.affiliation_id": 1}
    with db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        with pytest.raises(Conflict):  # twice
            organisations.merge(ctx, s.get(Organisation, dup.id), s.get(Organisation, keep.id))
        with pytest.raises(Invalid):
            organisations.merge(ctx, s.get(Organisation, keep.id), s.get(Organisation, keep.id))
        with pytest.raises(Conflict):  # into a merged one
            organisations.merge(ctx, s.get(Organisation, keep.id), s.get(Organisation, dup.id))


def test_custodian_teams_become_organisations(db, clock):
    existing = _org(db, clock, "NHS Digital", country="GB")
    _team(db, clock, "NHS DIGITAL")
    _team(db, clock, "SAIL Databank")
    linked = _team(db, clock, "Own team", existing)
    with db.sessions.begin() as s:
        assert organisations.organisations_for_teams(Context(s, SYSTEM, clock)) == 2
        assert organisations.organisations_for_teams(Context(s, SYSTEM, clock)) == 0  # idempotent
    with db.sessions() as s:
        by_team = {t.name: t.organisation for t in s.scalars(select(Team))}
        assert by_team["NHS DIGITAL"].id == existing.id  # reused by name
        assert by_team["SAIL Databank"].name == "SAIL Databank" and by_team["SAIL Databank"].country == "GB"
        assert by_team[linked.name].id == existing.id


def test_create_team_refuses_a_taken_name(db, clock):
    _team(db, clock, "SAIL")
    with db.sessions.begin() as s, pytest.raises(Conflict):
        teams.create_team(Context(s, SYSTEM, clock), " sail ")
