"""Dataset data-use conditions through the service, and the advice an application gets on submission, on
both databases: who may set conditions, validation naming every bad term, audit, and the stored advice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from healthgate.access import data_use, duo
from healthgate.access import duo_terms as terms
from healthgate.access import service as access
from healthgate.audit.models import AuditEvent
from healthgate.context import Context
from healthgate.errors import Forbidden, Invalid, NotFound, Unauthorized
from healthgate.identity.permissions import ANONYMOUS
from tests.access.harness import build


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def _set(db, w, who, key, payload):
    with db.sessions.begin() as s:
        return data_use.set_conditions(w.ctx(s, who), w.datasets[key], payload)


def test_a_custodian_sets_conditions_and_anyone_reads_them(db, world):
    w = world
    got = _set(db, w, "manager_A", "A1", {"permission": "DS", "diseases": ["e11", "I20-I25", "E11"],
                                          "modifiers": ["PUB", "DUO:0000021", "NCU"]})
    assert got.permission == terms.DS
    assert got.diseases == ("ICD10:E11", "ICD10:I20-I25")  # normalised, once each
    assert got.modifiers == (terms.NCU, terms.IRB, terms.PUB)  # DUO's order
    with db.sessions.begin() as s:
        for who in ("stranger", "applicant", "manager_B"):
            assert data_use.get(w.ctx(s, who), w.datasets["A1"]) == got
        shown = data_use.get(Context(s, ANONYMOUS, w.clock), w.datasets["A1"]).as_dict()
        assert shown["permission"]["shorthand"] == "DS"
        assert [d["label"] for d in shown["diseases"]] == ["Type 2 diabetes mellitus", "Ischaemic heart diseases"]
        assert not data_use.get(w.ctx(s, "stranger"), w.datasets["A2"]).set
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "dataset.data_use_set")).all()
        assert len(events) == 1 and events[0].data["after"]["permission"] == terms.DS
        assert events[0].data["before"] is None


def test_clearing_and_changing_are_audited(db, world):
    w = world
    _set(db, w, "manager_A", "A1", {"permission": "GRU"})
    _set(db, w, "manager_A", "A1", {"permission": "HMB", "modifiers": ["IRB"]})
    cleared = _set(db, w, "manager_A", "A1", {"permission": None})
    assert not cleared.set
    with db.sessions.begin() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.subject_id == str(w.datasets["A1"]))
                                               .order_by(AuditEvent.id))]
        assert actions[-3:] == ["dataset.data_use_set", "dataset.data_use_set", "dataset.data_use_cleared"]
        assert not data_use.get(w.ctx(s, "stranger"), w.datasets["A1"]).set


@pytest.mark.parametrize(("who", "error"), [("reviewer_A", Forbidden), ("manager_B", Forbidden),
                                            ("stranger", Forbidden), ("applicant", Forbidden)])
def test_only_the_datasets_custodian_may_set_them(db, world, who, error):
    w = world
    with pytest.raises(error), db.sessions.begin() as s:
        data_use.set_conditions(w.ctx(s, who), w.datasets["A1"], {"permission": "GRU"})
    with db.sessions.begin() as s:
        with pytest.raises(Unauthorized):
            data_use.set_conditions(Context(s, ANONYMOUS, w.clock), w.datasets["A1"], {"permission": "GRU"})
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "dataset.data_use_set")).all() == []


def test_admin_and_unknown_dataset(db, world):
    w = world
    assert _set(db, w, "admin", "B1", {"permission": "POA"}).permission == terms.POA
    import uuid
    with pytest.raises(NotFound), db.sessions.begin() as s:
        data_use.set_conditions(w.ctx(s, "admin"), uuid.uuid4(), {"permission": "GRU"})


@pytest.mark.parametrize(("payload", "paths"), [
    ({"permission": "DS"}, ["diseases"]),
    ({"permission": "DS", "diseases": ["E11", "not-a-code"]}, ["diseases/1"]),
    ({"permission": "GRU", "diseases": ["E11"]}, ["diseases"]),
    ({"permission": "XYZ"}, ["permission"]),
    ({"permission": "IRB"}, ["permission"]),
    ({"permission": "HMB", "modifiers": ["IRB", "BOGUS", "GRU"]}, ["modifiers/1", "modifiers/2"]),
    ({"permission": None, "modifiers": ["IRB"]}, ["permission"]),
    ({"permission": "GRU", "colour": "red"}, ["colour"]),
    ({"permission": "GRU", "modifiers": "IRB,PUB"}, ["modifiers/0"]),
])
def test_bad_conditions_are_refused_naming_each_field(db, world, payload, paths):
    w = world
    with pytest.raises(Invalid) as raised, db.sessions.begin() as s:
        data_use.set_conditions(w.ctx(s, "manager_A"), w.datasets["A1"], payload)
    assert [e.path for e in raised.value.errors] == paths
    if payload.get("permission") == "XYZ":
        assert "'XYZ'" in raised.value.errors[0].message  # the unknown term is named
    with db.sessions.begin() as s:
        assert not data_use.get(w.ctx(s, "manager_A"), w.datasets["A1"]).set  # nothing half-written


def test_submission_stores_the_advice_per_dataset(db, world):
    w = world
    _set(db, w, "manager_A", "A1", {"permission": "DS", "diseases": ["E10-E14"], "modifiers": ["IRB", "PUB"]})
    _set(db, w, "manager_A", "A2", {"permission": "HMB", "modifiers": ["NCU"]})
    # B1: no conditions set -> ABSTAIN
    with db.sessions.begin() as s:
        app = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["A2"], w.datasets["B1"]],
                            title="Diabetes outcomes")
        app_id = app.id
    with db.sessions.begin() as s:
        view = access.run(w.ctx(s, "applicant"), app_id, "save",
                          {"purpose": {"terms": ["DS"], "diseases": ["E11.9"], "commercial": True}})
        assert view.state.purpose["diseases"] == ["ICD10:E11.9"]
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    with db.sessions.begin() as s:
        submitted = [r for r in access.event_rows(w.ctx(s, "applicant"), app_id) if r.type == "submitted"]
        advice = {a["dataset_id"]: a for a in submitted[0].data["duo"]}
        a1, a2, b1 = (advice[str(w.datasets[k])] for k in ("A1", "A2", "B1"))
        assert a1["verdict"] == "APPROVE" and a1["team_id"] == str(w.teams["A"])
        assert a1["conditions"] == [duo.CONDITIONS[terms.IRB], duo.CONDITIONS[terms.PUB]]
        assert a2["verdict"] == "DENY" and "non-commercial" in a2["reason"]
        assert b1["verdict"] == "ABSTAIN" and b1["team_id"] == str(w.teams["B"])
        assert list(advice) == [str(w.datasets[k]) for k in ("A1", "A2", "B1")]
        state = access.load_state(w.ctx(s, "applicant"), app_id)
        # what the custodian's "approve with conditions" form is prefilled with, per part
        assert duo.conditions_for(w.ctx(s, "manager_A"), state, w.teams["A"]) == [
            duo.CONDITIONS[terms.NCU], duo.CONDITIONS[terms.IRB], duo.CONDITIONS[terms.PUB]]
        assert duo.conditions_for(w.ctx(s, "manager_B"), state, w.teams["B"]) == []


def test_a_bad_purpose_is_refused_when_saved(db, world):
    w = world
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]], title="x").id
    with pytest.raises(Invalid) as raised, db.sessions.begin() as s:
        access.run(w.ctx(s, "applicant"), app_id, "save", {"purpose": {"terms": ["DS"], "commercial": "often"}})
    assert {e.path for e in raised.value.errors} == {"purpose/commercial", "purpose/diseases"}


def test_check_before_applying(db, world):
    w = world
    _set(db, w, "manager_A", "A1", {"permission": "HMB"})
    with db.sessions.begin() as s:
        advice = duo.check(w.ctx(s, "applicant"), {"terms": ["POA"]}, [w.datasets["A1"], w.datasets["B1"]])
        assert [a.verdict for a in advice] == ["DENY", "ABSTAIN"]
        import uuid
        with pytest.raises(NotFound):
            duo.check(w.ctx(s, "applicant"), {"terms": ["HMB"]}, [uuid.uuid4()])


def test_resubmission_advises_again_and_pages_read_the_latest(db, world):
    w = world
    _set(db, w, "manager_A", "A1", {"permission": "HMB", "modifiers": ["NCU"]})
    _set(db, w, "manager_B", "B1", {"permission": "GRU"})
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]], title="Trial").id
        access.run(w.ctx(s, "applicant"), app_id, "save", {"purpose": {"terms": ["HMB"], "commercial": True}})
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    with db.sessions.begin() as s:
        rows = access.event_rows(w.ctx(s, "applicant"), app_id)
        assert [a["verdict"] for a in duo.latest_advice(rows)] == ["DENY", "APPROVE"]
        access.run(w.ctx(s, "manager_A"), app_id, "return", {"reason": "Commercial use is not allowed"})
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "applicant"), app_id, "save", {"purpose": {"terms": ["HMB"], "commercial": False}})
        access.run(w.ctx(s, "applicant"), app_id, "resubmit")
    with db.sessions.begin() as s:
        view = access.get(w.ctx(s, "manager_A"), app_id)
        rows = access.visible_events(view, access.event_rows(w.ctx(s, "manager_A"), app_id))
        mine = duo.latest_advice(rows, team_id=w.teams["A"])
        assert [(a["dataset_id"], a["verdict"]) for a in mine] == [(str(w.datasets["A1"]), "APPROVE")]
        assert mine[0]["conditions"] == [duo.CONDITIONS[terms.NCU]]
        titles = duo.dataset_titles(w.ctx(s, "manager_A"), [a["dataset_id"] for a in duo.latest_advice(rows)])
        assert titles == {str(w.datasets["A1"]): "Alpha cardiovascular cohort", str(w.datasets["B1"]): "Beta genomes"}
