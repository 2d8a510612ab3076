"""The lifecycle through the service, on both databases: a two-custodian application from draft to
decisions, the whitelist (409 naming what is allowed), optimistic concurrency, visibility, and that folding
the log again reproduces the projections."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from healthgate.access import lifecycle as lc
from healthgate.access import messages
from healthgate.access import service as access
from healthgate.access.models import ApplicationEvent, ApplicationPart
from healthgate.audit import actions
from healthgate.errors import Conflict, Forbidden, Invalid, NotFound
from tests.access.harness import Q1, Q2, build


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def test_every_event_type_is_an_audit_action():
    for event_type in lc.EVENT_TYPES:
        actions.check(f"application.{event_type}")


def test_two_custodians_return_resubmit_and_decide(db, world):
    w = world
    with db.sessions.begin() as s:
        app = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]], title="Heart and genes")
        app_id = app.id
    with db.sessions.begin() as s:
        view = access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {Q1: "yes"}})
        assert view.state.answers == {Q1: "yes"}
        view = access.run(w.ctx(s, "applicant"), app_id, "submit", expected_version=view.state.version)
        assert view.state.status == lc.Status.SUBMITTED
        assert set(view.state.parts) == {w.teams["A"], w.teams["B"]}
    with db.sessions.begin() as s:
        view = access.run(w.ctx(s, "manager_A"), app_id, "return", {"reason": "Say more about linkage"})
        assert view.state.status == lc.Status.RETURNED
    with db.sessions.begin() as s:
        # B's manager still sees only its own part's commands; the applicant may save and resubmit
        view = access.get(w.ctx(s, "manager_B"), app_id)
        assert {a.team_id for a in view.allowed} == {w.teams["B"]}
        view = access.get(w.ctx(s, "applicant"), app_id)
        assert {a.command for a in view.allowed} >= {lc.Command.SAVE, lc.Command.RESUBMIT}
        access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {Q2: "linkage by NHS number"}})
        view = access.run(w.ctx(s, "applicant"), app_id, "resubmit")
        assert view.state.parts[w.teams["A"]].state == lc.PartState.SUBMITTED
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "assign_reviewers",
                   {"reviewers": [str(w.people["reviewer_A"])], "due": "2026-02-01"})
        view = access.run(w.ctx(s, "reviewer_A"), app_id, "review", {"recommendation": "approve", "comment": "ok"})
        assert [a.command for a in view.allowed] == [lc.Command.REVIEW]  # may revise while the part is in review
        assert view.state.parts[w.teams["A"]].reviews[0].recommendation == "approve"
    with db.sessions.begin() as s:
        view = access.run(w.ctx(s, "manager_A"), app_id, "approve_with_conditions",
                          {"conditions": ["Outputs checked before release"]})
        view = access.run(w.ctx(s, "manager_B"), app_id, "reject", {"reason": "Out of scope"})
        assert view.state.status == lc.Status.PARTLY_APPROVED
    with db.sessions.begin() as s:
        # the projection equals a fresh fold of the log
        state = access.load_state(w.ctx(s, "system"), app_id)
        parts = {p.team_id: p.state for p in s.scalars(select(ApplicationPart))}
        assert parts == {t: p.state.value for t, p in state.parts.items()}
        seqs = list(s.scalars(select(ApplicationEvent.seq).where(ApplicationEvent.application_id == app_id)
                              .order_by(ApplicationEvent.seq)))
        assert seqs == list(range(1, len(seqs) + 1)) and state.version == len(seqs)
        # the applicant never sees reviews; B never sees A's reviews
        applicant_view = access.get(w.ctx(s, "applicant"), app_id)
        rows = access.event_rows(w.ctx(s, "system"), app_id)
        assert "reviewed" not in {r.type for r in access.visible_events(applicant_view, rows)}
        b_view = access.get(w.ctx(s, "manager_B"), app_id)
        assert all(r.team_id in (None, w.teams["B"]) for r in access.visible_events(b_view, rows))


def test_wrong_state_gets_409_listing_allowed_commands(db, world):
    w = world
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
    with db.sessions.begin() as s:
        with pytest.raises(Conflict) as refused:
            access.run(w.ctx(s, "applicant"), app_id, "resubmit")
        assert "allowed now" in refused.value.detail
        assert {e.message for e in refused.value.errors} >= {"submit", "save"}


def test_stale_version_is_refused(db, world):
    w = world
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "applicant"), app_id, "save", {"title": "first"}, expected_version=1)
    with db.sessions.begin() as s, pytest.raises(Conflict):
        access.run(w.ctx(s, "applicant"), app_id, "save", {"title": "lost update"}, expected_version=1)


def test_strangers_and_other_custodians_see_nothing(db, world):
    w = world
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
    with db.sessions.begin() as s:
        with pytest.raises(NotFound):
            access.get(w.ctx(s, "manager_A"), app_id)  # a draft is the applicant's alone
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    with db.sessions.begin() as s:
        for who in ("stranger", "manager_B", "collaborator"):
            with pytest.raises(NotFound):
                access.get(w.ctx(s, who), app_id)
        assert access.get(w.ctx(s, "reviewer_A"), app_id).teams == {w.teams["A"]}


def test_messages_and_notes_stay_on_their_side(db, world):
    w = world
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]]).id
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    with db.sessions.begin() as s:
        messages.post(w.ctx(s, "applicant"), "application", app_id, "To A", team_id=w.teams["A"])
        messages.post(w.ctx(s, "manager_A"), "application", app_id, "A's internal", audience="team")
        messages.post(w.ctx(s, "applicant"), "application", app_id, "my note", audience="applicant")
        with pytest.raises(Forbidden):
            messages.post(w.ctx(s, "manager_B"), "application", app_id, "x", audience="team", team_id=w.teams["A"])
    with db.sessions.begin() as s:
        def bodies(who):
            return {m.body for m in messages.visible(w.ctx(s, who), "application", app_id)}
        assert bodies("applicant") == {"To A", "my note"}
        assert bodies("reviewer_A") == {"To A", "A's internal"}
        assert bodies("manager_B") == set()


def test_requests_only_public_datasets(db, world):
    w = world
    import uuid

    with db.sessions.begin() as s, pytest.raises(Invalid) as bad:
        access.create(w.ctx(s, "applicant"), [w.datasets["A1"], uuid.uuid4()])
    assert bad.value.errors[0].path == "datasets/1"
