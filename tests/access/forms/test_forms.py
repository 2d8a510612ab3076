"""The question bank, custodian templates and the application form through the service, on both databases:
stable ids, the shared question asked once, a pinned template version kept, 422 listing every missing answer
(follow-ups when their condition holds), answers checked by component."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from healthgate.access import bank, forms, templates
from healthgate.access import service as access
from healthgate.access.models import QuestionBankVersion
from healthgate.audit.models import AuditEvent
from healthgate.errors import Conflict, Forbidden, Invalid
from tests.access.harness import build

LAWFUL6 = "safedata.lawful-basis.article-6-lawful-basis"
OPT_OUT = "safedata.national-data-opt-out.applies"
EXEMPTION = "safedata.national-data-opt-out.applies.exemption"
ETHICS = "safedata.ethical-approval.ethical-approval-been-obtained"
TITLE = "safeproject.project-details.title-project"
LAY = "safeproject.project-details.provide-lay-summary-project"


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock, templates=False)


def test_the_shipped_bank_is_canonical_with_stable_unique_ids():
    doc = bank.canonical()
    assert [s["key"] for s in doc["sections"]] == list(bank.SECTIONS)
    entries = bank._walk(doc)
    assert len(entries) == len(set(entries)) > 250
    assert all(len(q) <= bank.MAX_ID for q in entries)
    assert bank._walk(bank.canonical()).keys() == entries.keys()  # derived the same way every time
    for qid in (LAWFUL6, "safedata.lawful-basis.article-9-conditions", OPT_OUT, ETHICS, TITLE,
                "safedata.confidentiality-avenue.provide-legal-basis-process-confidential-information",
                "safedata.other-datasets-intention-link-data.intend-datasets-requested-linked-additional-datasets",
                "safedata.statistical-analysis.forms-statistical-analysis-planned",
                "additionalinfo.invoice-contact.full-name"):
        assert qid in entries, qid
    assert {e.question["component"] for e in entries.values()} == set(bank.COMPONENTS)
    # the older follow-up format becomes children of options
    s251 = entries["safedata.confidentiality-avenue.provide-legal-basis-process-confidential-information"]
    assert [o["value"] for o in s251.question["options"]] == [
        "Not applicable", "Informed consent", "Section 251 support", "Other"]
    kids = [e for e in entries.values() if e.parent == s251.id]
    assert {k.option for k in kids} == {"Informed consent", "Section 251 support", "Other"}
    assert entries[OPT_OUT].question["source"] == "healthgate"
    assert entries[EXEMPTION].parent == OPT_OUT
    assert entries[LAWFUL6].question["source"] == "hdruk"


def test_bank_seeds_once_and_admin_changes_are_new_versions(db, world):
    w = world
    with db.sessions.begin() as s:
        assert bank.get(w.ctx(s, "stranger")).version == 1
    with db.sessions.begin() as s, pytest.raises(Forbidden):
        bank.add_question(w.ctx(s, "manager_A"), "safedata", "National data opt-out", {
            "title": "x", "component": "TextArea"})
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "admin")
        b, new_id = bank.add_question(ctx, "safedata", "national-data-opt-out",
                              {"title": "Is data linked to opt-out registers?", "component": "RadioGroup",
                               "options": ["Yes", "No"], "guidance": "Ask the custodian"}, expected_version=1)
        assert b.version == 2 and new_id == "safedata.national-data-opt-out.data-linked-opt-out-registers"
        assert b.entries[new_id].question["source"] == "healthgate"
        b = bank.edit_question(ctx, LAWFUL6, {"guidance": "Say which"})
        assert b.version == 3 and b.entries[LAWFUL6].question["guidance"] == "Say which"
        b = bank.retire_question(ctx, new_id)
        assert b.version == 4 and b.entries[new_id].question["retired"]
        with pytest.raises(Conflict):
            bank.edit_question(ctx, LAWFUL6, {"required": True}, expected_version=2)
        with pytest.raises(Invalid) as bad:
            bank.edit_question(ctx, LAWFUL6, {"component": "Spinner", "colour": "red"})
        assert {e.path for e in bad.value.errors} == {"changes/colour", "changes/component"}
        assert bank.get(ctx, 1).entries[LAWFUL6].question["guidance"].startswith("The lawful bases")  # unchanged
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("question_bank.%"))))
        assert sorted(actions) == ["question_bank.question_added", "question_bank.question_edited",
                                   "question_bank.question_retired"]


def test_concurrent_first_use_seeds_version_one_once(db, world):
    errors = []

    def seed():
        try:
            with db.sessions.begin() as s:
                bank.ensure_seeded(world.ctx(s, "stranger"))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=seed) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.sessions.begin() as s:
        assert list(s.scalars(select(QuestionBankVersion.version))) == [1]


def _publish(db, w, who, team, items):
    with db.sessions.begin() as s:
        ctx = w.ctx(s, who)
        templates.save_draft(ctx, w.teams[team], items)
        return templates.publish(ctx, w.teams[team]).id


def test_shared_question_asked_once_required_if_any_template_requires_it(db, world):
    w = world
    _publish(db, w, "manager_A", "A", [{"id": LAWFUL6, "required": True, "guidance": "A wants Art. 6"},
                                       {"id": TITLE, "required": True}])
    _publish(db, w, "manager_B", "B", [{"id": LAWFUL6, "required": False, "guidance": "B too"},
                                       {"id": OPT_OUT, "required": False}])
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]]).id
    with db.sessions.begin() as s:
        view = access.get(w.ctx(s, "applicant"), app_id)
        form = forms.form_for(w.ctx(s, "applicant"), view.state)
        ids = [q.id for q in form.questions()]
        assert ids.count(LAWFUL6) == 1
        q = form.index()[LAWFUL6]
        assert q.required and q.asked_by == ("Alpha Health Data", "Beta Biobank")
        assert "A wants Art. 6" in q.guidance and "B too" in q.guidance
        assert [s_.key for s_ in form.sections] == ["safeproject", "safedata"]
        assert form.index()[EXEMPTION].show_if == (OPT_OUT, "No, an exemption applies")
        assert not form.index()[OPT_OUT].required


def test_application_keeps_its_template_version(db, world):
    w = world
    first = _publish(db, w, "manager_A", "A", [{"id": TITLE, "required": True}])
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
    second = _publish(db, w, "manager_A", "A", [{"id": TITLE, "required": True}, {"id": LAY, "required": True}])
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "applicant")
        old = access.get(ctx, app_id).state
        assert old.templates == {str(w.teams["A"]): str(first)}
        assert [q.id for q in forms.form_for(ctx, old).questions()] == [TITLE]
        new_id = access.create(ctx, [w.datasets["A2"]]).id
        new = access.get(ctx, new_id).state
        assert new.templates == {str(w.teams["A"]): str(second)}
        assert {q.id for q in forms.form_for(ctx, new).questions()} == {TITLE, LAY}
        rows = templates.history(w.ctx(s, "manager_A"), w.teams["A"])
        assert [(r.version, r.status) for r in rows] == [(2, "published"), (1, "published")]


def test_a_team_without_a_template_asks_the_banks_required_questions(db, world):
    w = world
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["B1"]]).id
        state = access.get(w.ctx(s, "applicant"), app_id).state
        assert state.templates == {str(w.teams["B"]): "bank:1"}
        form = forms.form_for(w.ctx(s, "applicant"), state)
        top = [q for q in form.questions() if q.depth == 0]
        assert top and all(q.required for q in top)
        assert {TITLE, OPT_OUT, ETHICS} <= {q.id for q in top}


def test_submission_lists_every_missing_answer_follow_ups_included(db, world):
    w = world
    _publish(db, w, "manager_A", "A", [{"id": TITLE, "required": True}, {"id": OPT_OUT, "required": True},
                                       {"id": LAWFUL6, "required": True}])
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
    with db.sessions.begin() as s, pytest.raises(Invalid) as missing:
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    assert {e.path for e in missing.value.errors} == {f"answers/{TITLE}", f"answers/{OPT_OUT}",
                                                      f"answers/{LAWFUL6}"}
    assert f"answers/{EXEMPTION}" not in {e.path for e in missing.value.errors}
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {
            TITLE: "Heart outcomes", OPT_OUT: "No, an exemption applies", LAWFUL6: "Not applicable"}})
    with db.sessions.begin() as s, pytest.raises(Invalid) as missing:
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    assert [(e.path, e.message) for e in missing.value.errors] == [
        (f"answers/{EXEMPTION}", "Which exemption applies, and why? is required")]
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {EXEMPTION: "Explicit consent"}})
        assert access.run(w.ctx(s, "applicant"), app_id, "submit").state.submitted


def test_custodian_follow_up_shown_only_when_its_answer_is_given(db, world):
    w = world
    _publish(db, w, "manager_A", "A", [
        {"id": LAWFUL6, "required": True},
        {"id": LAY, "required": True, "show_if": {"question": LAWFUL6, "value": "Not applicable"}}])
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
        form = forms.form_for(w.ctx(s, "applicant"), access.get(w.ctx(s, "applicant"), app_id).state)
        assert form.index()[LAY].show_if == (LAWFUL6, "Not applicable")
        state = access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {
            LAWFUL6: next(o for o in form.index()[LAWFUL6].options if o.startswith("(a)"))}}).state
        assert forms.missing_answers(w.ctx(s, "applicant"), state) == []
        state = access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {LAWFUL6: "Not applicable"}}).state
        assert [e.path for e in forms.missing_answers(w.ctx(s, "applicant"), state)] == [f"answers/{LAY}"]


def test_answers_are_checked_by_component(db, world):
    w = world
    checks = "safedata.data-fields.geographical-coverage-datasets-requested"
    start = "safeproject.project-details.anticipated-start-date-project"
    email = "safepeople.primary-applicant.email"
    _publish(db, w, "manager_A", "A", [{"id": q, "required": False} for q in
                                       (TITLE, LAWFUL6, checks, start, email)])
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
    with db.sessions.begin() as s, pytest.raises(Invalid) as bad:
        access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {
            TITLE: 7, LAWFUL6: "maybe", checks: ["England", "Mars"], start: "next week", email: "nobody",
            "no.such.question": "x"}})
    assert {e.path: e.message for e in bad.value.errors} == {
        f"answers/{TITLE}": "must be text", f"answers/{LAWFUL6}": "is not one of the options",
        f"answers/{checks}": "not among the options: Mars", f"answers/{start}": "must be a date (YYYY-MM-DD)",
        f"answers/{email}": "must be an email address",
        "answers/no.such.question": "is not a question of this application's form"}
    with db.sessions.begin() as s:
        state = access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {
            TITLE: " Heart ", checks: ["Wales", "England"], start: "2026-03-01", email: "a@b.org"}}).state
        assert state.answers == {TITLE: "Heart", checks: ["England", "Wales"], start: "2026-03-01",
                                 email: "a@b.org"}
        state = access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {TITLE: "", checks: []}}).state
        assert state.answers == {start: "2026-03-01", email: "a@b.org"}


def test_template_items_are_checked(db, world):
    w = world
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "manager_A")
        with pytest.raises(Invalid) as bad:
            templates.save_draft(ctx, w.teams["A"], [
                {"id": "nope"}, {"id": TITLE, "required": "yes"},
                {"id": LAY, "show_if": {"question": TITLE, "value": "x"}}, {"id": EXEMPTION}])
        assert {e.path for e in bad.value.errors} == {
            "questions/0/id", "questions/1/required", "questions/2/show_if/question", "questions/3/id"}
        with pytest.raises(Forbidden):
            templates.save_draft(w.ctx(s, "reviewer_A"), w.teams["A"], [{"id": TITLE}])
        with pytest.raises(Forbidden):
            templates.save_draft(w.ctx(s, "manager_B"), w.teams["A"], [{"id": TITLE}])
        with pytest.raises(Conflict):
            templates.publish(ctx, w.teams["A"])  # no draft


def test_answers_from_form_reads_posted_fields(db, world):
    w = world
    checks = "safedata.data-fields.geographical-coverage-datasets-requested"
    _publish(db, w, "manager_A", "A", [{"id": TITLE, "required": True}, {"id": checks}])
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
        form = forms.form_for(w.ctx(s, "applicant"), access.get(w.ctx(s, "applicant"), app_id).state)
    posted = {f"q:{TITLE}": ["Heart"], f"q:{checks}": ["", "England", "Wales"], "csrf_token": ["x"]}
    assert forms.answers_from_form(form, posted) == {TITLE: "Heart", checks: ["England", "Wales"]}
    assert forms.answers_from_form(form, {f"q:{checks}": [""]}) == {checks: []}


def test_a_retired_question_stays_where_it_is_and_cannot_be_chosen_anew(db, world):
    w = world
    _publish(db, w, "manager_A", "A", [{"id": TITLE, "required": True}, {"id": LAY}])
    with db.sessions.begin() as s:
        bank.retire_question(w.ctx(s, "admin"), LAY)
    with db.sessions.begin() as s:
        row = templates.save_draft(w.ctx(s, "manager_A"), w.teams["A"], [{"id": TITLE}, {"id": LAY}])
        assert row.bank_version == 2
        with pytest.raises(Invalid) as bad:
            templates.save_draft(w.ctx(s, "manager_B"), w.teams["B"], [{"id": LAY}])
        assert bad.value.errors[0].message == f"{LAY} is retired"


def test_a_save_racing_a_publish_never_changes_the_published_version(db, world):
    """PostgreSQL: the save waits for the publish's lock on the draft, then starts the next draft."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    w = world
    with db.sessions.begin() as s:
        templates.save_draft(w.ctx(s, "manager_A"), w.teams["A"], [{"id": TITLE}])
    publishing = db.sessions()
    publishing.begin()
    templates.publish(w.ctx(publishing, "manager_A"), w.teams["A"])  # holds the draft's row lock
    done = []

    def save():
        with db.sessions.begin() as s:
            done.append(templates.save_draft(w.ctx(s, "manager_A"), w.teams["A"], [{"id": LAY}]).version)

    racer = threading.Thread(target=save)
    racer.start()
    racer.join(timeout=1)
    assert racer.is_alive()  # waiting for the lock
    publishing.commit()
    publishing.close()
    racer.join(timeout=30)
    assert done == [2]
    with db.sessions.begin() as s:
        rows = templates.history(w.ctx(s, "manager_A"), w.teams["A"])
        assert [(r.version, r.status, [i["id"] for i in r.items["questions"]]) for r in rows] == [
            (2, "draft", [LAY]), (1, "published", [TITLE])]
