"""Register entries through the service: who may write, what is checked, what is audited, who may read."""

from __future__ import annotations

from datetime import date

import pytest

from healthgate.audit.models import AuditEvent
from healthgate.errors import Conflict, Forbidden, Invalid, NotFound
from healthgate.register import service as register
from tests.access import harness


def entry(**changes) -> register.EntryData:
    data = register.EntryData(
        organisation_name="University of Exeter", project_title="Heart failure after COVID-19",
        lay_summary="We look at who develops heart failure.", public_benefit="Better follow-up care.",
        approval_date=date(2025, 3, 1), access_type="tre",
        datasets=[register.DatasetRef("Alpha cardiovascular cohort")], project_id="P-1",
        applicants=[register.Applicant("Ada Lovelace", "https://orcid.org/0000-0002-1825-0097")],
        legal_basis="(e)", organisation_sector="academic institute",
        outputs=[register.output_of("doi:10.1000/xyz123"), register.output_of("https://github.com/x/y")],
    )
    for k, v in changes.items():
        setattr(data, k, v)
    return data


def test_create_publish_withdraw_and_read(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        made = register.create(w.ctx(s, "manager_A"), w.teams["A"], entry())
        entry_id = made.id
        assert made.status == "draft" and made.access_type == "TRE"
        assert made.legal_basis.startswith("(e) processing is necessary")
        assert made.organisation_sector == "Academic Institute"
        data = register.entry_data(s, made)
        assert data.applicants[0].orcid == "0000-0002-1825-0097"
        assert [o.kind for o in data.outputs] == ["paper", "code"]
        assert data.outputs[0].url == "https://doi.org/10.1000/xyz123"
    with db.sessions.begin() as s:
        with pytest.raises(NotFound):  # a draft is not public
            register.get(w.ctx(s, "stranger"), entry_id)
        with pytest.raises(NotFound):  # another custodian cannot even tell it exists
            register.publish(w.ctx(s, "manager_B"), entry_id)
        with pytest.raises(Conflict):  # a stale version
            register.publish(w.ctx(s, "manager_A"), entry_id, expected_version=7)
        register.publish(w.ctx(s, "manager_A"), entry_id, expected_version=1)
    with db.sessions.begin() as s:
        assert register.get(w.ctx(s, "stranger"), entry_id).status == "published"
        with pytest.raises(Forbidden):
            register.withdraw(w.ctx(s, "manager_B"), entry_id)
        register.withdraw(w.ctx(s, "manager_A"), entry_id)
    with db.sessions.begin() as s:
        actions = [a for (a,) in s.execute(
            AuditEvent.__table__.select().with_only_columns(AuditEvent.action)
            .where(AuditEvent.subject_id == str(entry_id)).order_by(AuditEvent.seq))]
        assert actions == ["register_entry.created", "register_entry.published", "register_entry.withdrawn"]


def test_bad_entries_name_every_field(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        bad = entry(project_title="  ", access_type="Download", legal_basis="(z)", datasets=[],
                    project_start=date(2025, 1, 2), project_end=date(2024, 1, 1), organisation_ror="012345678",
                    applicants=[register.Applicant("A", "0000-0002-1825-0098")])
        with pytest.raises(Invalid) as caught:
            register.create(w.ctx(s, "manager_A"), w.teams["A"], bad)
        paths = sorted(e.path for e in caught.value.errors)
        assert paths == ["access_type", "applicants[0].orcid", "datasets", "legal_basis", "organisation_ror",
                         "project_end", "project_title"]


def test_project_ids_are_unique_per_register(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        register.create(w.ctx(s, "manager_A"), w.teams["A"], entry())
        with pytest.raises(Conflict):
            register.create(w.ctx(s, "manager_A"), w.teams["A"], entry())
        register.create(w.ctx(s, "manager_B"), w.teams["B"], entry())  # another custodian's P-1
