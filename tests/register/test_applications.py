"""Approved applications draft register entries: one per approving custodian, with the application's public
fields, never public until that custodian publishes, never drafted twice."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from healthgate.access import service as access
from healthgate.access import templates as access_templates
from healthgate.context import Context
from healthgate.errors import Invalid, NotFound
from healthgate.identity.models import Organisation, User
from healthgate.identity.permissions import SYSTEM
from healthgate.register import applications as feed
from healthgate.register import service as register
from healthgate.register.models import RegisterEntry
from tests.access import harness

QUESTIONS = [feed.Q_TITLE, feed.Q_LAY, feed.Q_BENEFIT_CHOICES, feed.Q_BENEFIT_DETAILS, feed.Q_AIMS, feed.Q_START,
             feed.Q_END, feed.Q_DEA, feed.Q_SUBLICENCE, feed.Q_HAS_FUNDER, feed.Q_FUNDER, feed.Q_ARTICLE_6,
             feed.Q_ARTICLE_9, feed.Q_CONFIDENTIAL, feed.Q_OPT_OUT, feed.Q_ACCESS, feed.Q_ORGANISATION]
ANSWERS = {
    feed.Q_TITLE: "Heart failure after COVID-19",
    feed.Q_LAY: "We look at who develops heart failure after an infection.",
    feed.Q_BENEFIT_CHOICES: ["Inform planning health services and programmes"],
    feed.Q_BENEFIT_DETAILS: "Cardiology services can plan follow-up clinics.",
    feed.Q_AIMS: "A retrospective cohort study with linked hospital records.",
    feed.Q_START: "2026-01-05", feed.Q_END: "2027-12-31",
    feed.Q_DEA: "Yes", feed.Q_SUBLICENCE: "No",
    feed.Q_HAS_FUNDER: "Yes", feed.Q_FUNDER: "British Heart Foundation",
    feed.Q_ARTICLE_6: "(e) processing is necessary for the performance of a task carried out in the public "
                      "interest or in the exercise of official authority vested in the controller;",
    feed.Q_ARTICLE_9: "Not applicable",
    feed.Q_CONFIDENTIAL: "Section 251 support",
    feed.Q_OPT_OUT: "No, an exemption applies",
    feed.Q_OPT_OUT + ".exemption": "Section 251 support covers the whole cohort.",
    feed.Q_ACCESS: ["Via a Trusted Research Environment"],
    feed.Q_ORGANISATION: "Somewhere else entirely",
}


def world(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        sys_ctx = Context(s, SYSTEM, clock)
        for team in w.teams.values():
            access_templates.save_draft(sys_ctx, team, [{"id": q} for q in QUESTIONS])
            access_templates.publish(sys_ctx, team)
        org = Organisation(slug="university-of-exeter", name="University of Exeter",
                           name_key="university of exeter", ror_id="03yghzc09", sector="Academic Institute",
                           created_at=clock.now())
        s.add(org)
        s.flush()
        applicant = s.get(User, w.people["applicant"])
        applicant.orcid, applicant.affiliation_id = "0000-0002-1825-0097", org.id
        s.get(User, w.people["collaborator"]).orcid = "0000-0001-5109-3700"
        w.people["org"] = org.id
    return w


def applied(db, w, *datasets: str, answers=ANSWERS):
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "applicant")
        app_id = access.create(ctx, [w.datasets[d] for d in datasets]).id
        access.run(ctx, app_id, "invite_collaborator", {"user_id": str(w.people["collaborator"])})
        access.run(ctx, app_id, "save", {"answers": answers})
        access.run(ctx, app_id, "submit")
    return app_id


def entries(s, app_id):
    return list(s.scalars(select(RegisterEntry).where(RegisterEntry.application_id == app_id)
                          .order_by(RegisterEntry.created_at)))


def test_an_approval_drafts_the_custodians_entry_with_the_public_fields(db, clock):
    w = world(db, clock)
    app_id = applied(db, w, "A1", "A2", "B1")
    clock.advance(days=3)
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "approve")
        [entry] = entries(s, app_id)
        reference = s.get(access.Application, app_id).reference
        data = register.entry_data(s, entry)
    assert entry.team_id == w.teams["A"] and entry.status == "draft" and entry.origin == "application"
    assert data.project_id == reference
    assert data.project_title == "Heart failure after COVID-19"
    assert data.lay_summary == ANSWERS[feed.Q_LAY]
    assert data.public_benefit == ("Inform planning health services and programmes\n\n"
                                   "Cardiology services can plan follow-up clinics.")
    assert data.technical_summary == ANSWERS[feed.Q_AIMS]
    # the organisation is the applicant's affiliation, with its ROR id (not the free-text answer)
    assert (data.organisation_name, data.organisation_ror, data.organisation_sector) == (
        "University of Exeter", "03yghzc09", "Academic Institute")
    assert entry.organisation_id == w.people["org"]
    assert [(a.name, a.orcid) for a in data.applicants] == [("Applicant", "0000-0002-1825-0097"),
                                                            ("Collaborator", "0000-0001-5109-3700")]
    # only this custodian's datasets, linked to the catalogue
    assert [(d.name, d.dataset_id) for d in data.datasets] == [
        ("Alpha cardiovascular cohort", w.datasets["A1"]), ("Alpha renal registry", w.datasets["A2"])]
    assert data.approval_date == clock.now().date()
    assert data.legal_basis.startswith("(e) processing is necessary")
    assert data.lawful_condition == "Not applicable"
    assert data.confidentiality_duty == "Section 251 NHS Act 2006"
    assert data.opt_out_applied == "No"
    assert data.access_type == "TRE"
    assert (data.project_start, data.project_end) == (date(2026, 1, 5), date(2027, 12, 31))
    assert data.funders == ["British Heart Foundation"]
    assert (data.accredited_researcher, data.sublicence) == ("Yes", "No")


def test_nothing_is_public_until_the_custodian_publishes(db, clock):
    w = world(db, clock)
    app_id = applied(db, w, "A1", "B1")
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "approve_with_conditions", {"conditions": ["No linkage"]})
        [entry] = entries(s, app_id)
        entry_id = entry.id
    with db.sessions.begin() as s:
        for who in ("stranger", "applicant", "manager_B"):  # not even the applicant or the other custodian
            with pytest.raises(NotFound):
                register.get(w.ctx(s, who), entry_id)
        register.publish(w.ctx(s, "manager_A"), entry_id)
    with db.sessions.begin() as s:
        assert register.view(w.ctx(s, "stranger"), entry_id).data.project_title == "Heart failure after COVID-19"


def test_the_same_approval_never_drafts_twice_and_rejections_draft_nothing(db, clock):
    w = world(db, clock)
    app_id = applied(db, w, "A1", "B1")
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_B"), app_id, "reject", {"reason": "Out of scope"})
        assert entries(s, app_id) == []
        access.run(w.ctx(s, "manager_A"), app_id, "approve")
        [first] = entries(s, app_id)
        row, state = s.get(access.Application, app_id), access.load_state(w.ctx(s, "manager_A"), app_id)
        # the hook again for the same approval (a replayed event): the same entry back, no second one
        assert feed.draft_entry(w.ctx(s, "system"), row, state, w.teams["A"]).id == first.id
        feed.application_event(w.ctx(s, "system"), row, state, "approved", {}, w.teams["A"])
        assert feed.draft_entry(w.ctx(s, "system"), row, state, w.teams["B"]) is None  # rejected part
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RegisterEntry)) == 1


def test_an_incomplete_draft_cannot_be_published_until_completed(db, clock):
    w = world(db, clock)
    transfer = "Via transfer to a physical location (Provide details of the processing/storage organisations below)"
    sparse = {feed.Q_TITLE: "Sparse", feed.Q_ACCESS: ["Via a Trusted Research Environment", transfer]}
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "applicant")
        app_id = access.create(ctx, [w.datasets["A1"]]).id
        access.run(ctx, app_id, "save", {"answers": sparse})
        access.run(ctx, app_id, "submit")
        access.run(w.ctx(s, "manager_A"), app_id, "approve")
        [entry] = entries(s, app_id)
        entry_id = entry.id
        data = register.entry_data(s, entry)
        assert data.access_type == "" and data.lay_summary == ""  # both ways of access: the custodian decides
    with db.sessions.begin() as s:
        with pytest.raises(Invalid) as refused:
            register.publish(w.ctx(s, "manager_A"), entry_id)
        assert sorted(e.path for e in refused.value.errors) == ["access_type", "lay_summary", "public_benefit"]
    with db.sessions.begin() as s:
        data.access_type, data.lay_summary, data.public_benefit = "Release", "A short study.", "Better care."
        register.update(w.ctx(s, "manager_A"), entry_id, data, expected_version=1)
        assert register.publish(w.ctx(s, "manager_A"), entry_id).status == "published"


def test_legal_basis_is_matched_by_its_letter():
    assert feed._lookup("legal_basis", "(c) processing is necessary for compliance with a legal obligation") \
        == "(c)processing is necessary for compliance with a legal obligation to which the controller is subject;"
    assert feed._lookup("lawful_condition", "Not applicable") == "Not applicable"
    assert feed._lookup("legal_basis", "(z) no such") is None
    assert feed._opt_out("Yes, opted-out patients' data will be excluded") == "Yes"
