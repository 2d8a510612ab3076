"""What the service adds to an entry beyond its fields: links to the organisation registry (by ROR, else by name)
and to people's accounts (by ORCID); and what it refuses whatever the caller (NUL characters, incomplete
entries on publishing)."""

from __future__ import annotations

import pytest

from healthgate.errors import Invalid
from healthgate.identity.models import Organisation, User
from healthgate.register import service as register
from healthgate.register.models import RegisterEntryApplicant
from tests.access import harness
from tests.register.test_service import entry


def test_organisations_and_people_are_linked(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        exeter = Organisation(slug="exeter", name="University of Exeter", name_key="university of exeter",
                              ror_id="03yghzc09", created_at=clock.now())
        other = Organisation(slug="other", name="Another University", name_key="another university",
                             created_at=clock.now())
        s.add_all([exeter, other])
        s.get(User, w.people["collaborator"]).orcid = "0000-0002-1825-0097"
        s.flush()
        by_ror = register.create(w.ctx(s, "manager_A"), w.teams["A"],
                                 entry(organisation_name="Exeter Uni", organisation_ror="https://ror.org/03yghzc09"))
        by_name = register.create(w.ctx(s, "manager_A"), w.teams["A"],
                                  entry(project_id="P-2", organisation_name="  another   UNIVERSITY "))
        unknown = register.create(w.ctx(s, "manager_A"), w.teams["A"],
                                  entry(project_id="P-3", organisation_name="Nowhere Institute"))
        assert (by_ror.organisation_id, by_name.organisation_id, unknown.organisation_id) == (exeter.id, other.id,
                                                                                               None)
        [applicant] = s.query(RegisterEntryApplicant).filter_by(entry_id=by_ror.id).all()
        assert applicant.user_id == w.people["collaborator"]
        # an update relinks
        data = register.entry_data(s, unknown)
        data.organisation_name = "University of Exeter"
        assert register.update(w.ctx(s, "manager_A"), unknown.id, data).organisation_id == exeter.id


def test_nul_characters_are_refused_by_field(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        with pytest.raises(Invalid) as caught:
            register.create(w.ctx(s, "manager_A"), w.teams["A"],
                            entry(lay_summary="a\x00b", datasets=[register.DatasetRef("x\x00")]))
        assert sorted(e.path for e in caught.value.errors) == ["datasets[0].name", "lay_summary"]


def test_is_complete_follows_the_required_fields(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        made = register.insert_draft(w.ctx(s, "system"), w.teams["A"], entry(lay_summary=None, access_type=""),
                                     origin="application", drafting=True)
        assert not register.is_complete(made) and made.lay_summary == ""
        with pytest.raises(Invalid) as caught:
            register.publish(w.ctx(s, "manager_A"), made.id)
        assert sorted(e.path for e in caught.value.errors) == ["access_type", "lay_summary"]
        assert made.status == "draft"
