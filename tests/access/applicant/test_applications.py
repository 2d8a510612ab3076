"""One application through the researcher's pages, on both databases: fill, save, submit with answers missing
(422, each missing answer linked to its question), a stale form (409 with the current state, no lost update),
strangers (404), collaborators (edit, but neither withdraw nor invite), return and resubmit, decisions with
conditions and DUO advice, messages and notes, withdraw with confirmation, amendment."""

from __future__ import annotations

import re
import uuid

import pytest

from healthgate.access import duo, forms, messages
from healthgate.access import service as access
from healthgate.errors import FieldError
from tests.access.applicant.conftest import app_id_of, version_of

PURPOSE_Q = "safeproject-aim"
LINKAGE_Q = "safedata-linkage"


@pytest.fixture
def fake_form(monkeypatch):
    """A two-question form (one required) until the forms part ships the real bank and templates."""

    def form_for(ctx, state):
        return forms.ApplicationForm(sections=(
            forms.Section("safeproject", "Safe project", "", (
                forms.Question(PURPOSE_Q, "What is the aim of the project?", "", "TextArea", required=True,
                               answer=state.answers.get(PURPOSE_Q)),)),
            forms.Section("safedata", "Safe data", "", (
                forms.Question(LINKAGE_Q, "Will the data be linked?", "", "TextField",
                               answer=state.answers.get(LINKAGE_Q)),)),
        ))

    def missing_answers(ctx, state):
        return [] if state.answers.get(PURPOSE_Q) else [FieldError(f"answers/{PURPOSE_Q}", "answer this question")]

    monkeypatch.setattr(forms, "form_for", form_for)
    monkeypatch.setattr(forms, "missing_answers", missing_answers)


def start(site, who="applicant", keys=("A1", "B1")) -> tuple[object, str]:
    me = site.browser(who)
    r = me.post("/applications", {"dataset": [str(site.world.datasets[k]) for k in keys]})
    assert r.status_code == 303, r.text[:300]
    return me, app_id_of(r.headers["location"])


def test_save_then_submit_lists_every_missing_answer(site, fake_form, db):
    me, app_id = start(site)
    edit = me.get(f"/applications/{app_id}/edit")
    assert edit.status_code == 200 and "What is the aim of the project?" in edit.text
    assert f'name="q:{PURPOSE_Q}"' in edit.text and 'name="action" value="submit"' in edit.text
    v = version_of(edit.text)
    r = me.post(f"/applications/{app_id}/edit", {"version": v, "title": "Heart failure and genes",
                                                  f"q:{LINKAGE_Q}": "yes, by NHS number", "action": "submit"})
    assert r.status_code == 422
    summary = re.search(r'<div class="error-summary".*?</div>', r.text, re.DOTALL).group(0)
    assert f'href="#q-{PURPOSE_Q}"' in summary and "What is the aim of the project?" in summary
    assert "answer this question" in summary and "autofocus" in summary
    # what was typed was saved (only the submission was refused)
    assert 'value="Heart failure and genes"' in r.text and "yes, by NHS number" in r.text
    assert version_of(r.text) == v + 1
    r = me.post(f"/applications/{app_id}/edit", {"version": v + 1, "title": "Heart failure and genes",
                                                  f"q:{PURPOSE_Q}": "Find genetic risk", "action": "submit"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"/applications/{app_id}?done=submitted")
    page = me.get(r.headers["location"])
    assert "Submitted to every custodian." in page.text and "status-submitted" in page.text
    assert page.text.count('class="part"') == 2 and "Alpha Health Data" in page.text and "Beta Biobank" in page.text
    with db.sessions.begin() as s:
        state = access.load_state(site.world.ctx(s, "applicant"), uuid.UUID(app_id))
        assert state.answers == {PURPOSE_Q: "Find genetic risk", LINKAGE_Q: "yes, by NHS number"}
        assert state.submitted and state.title == "Heart failure and genes"
    # submitted: nothing left to edit, the edit page leads to the application
    assert me.get(f"/applications/{app_id}/edit").status_code == 303
    # the submit button on the application page answers the same 422 on the form
    me2, other = start(site)
    page = me2.get(f"/applications/{other}")
    r = me2.post(f"/applications/{other}/command", {"command": "submit", "version": version_of(page.text)})
    assert r.status_code == 422 and f'href="#q-{PURPOSE_Q}"' in r.text


def test_a_stale_form_is_refused_with_the_current_state(site, fake_form, db):
    me, app_id = start(site)
    r = me.post(f"/applications/{app_id}/collaborators", {"action": "invite", "email": "collaborator@example.org",
                                                          "version": version_of(me.get(f"/applications/{app_id}").text)})
    assert r.status_code == 303
    them = site.browser("collaborator")
    mine, theirs = me.get(f"/applications/{app_id}/edit"), them.get(f"/applications/{app_id}/edit")
    assert version_of(mine.text) == version_of(theirs.text)
    r = me.post(f"/applications/{app_id}/edit", {"version": version_of(mine.text), "title": "Mine"})
    assert r.status_code == 303 and r.headers["location"].endswith("/edit?done=saved")
    r = them.post(f"/applications/{app_id}/edit", {"version": version_of(theirs.text), "title": "Theirs",
                                                    f"q:{PURPOSE_Q}": "Their aim"})
    assert r.status_code == 409
    unsaved = r.text.split("What you had typed")[1].split("</details>")[0]  # kept to copy from, not saved
    assert "Theirs" in unsaved and "What is the aim of the project?" in unsaved and "Their aim" in unsaved
    assert "Someone changed this application since you opened the page" in r.text
    assert 'value="Mine"' in r.text and version_of(r.text) == version_of(theirs.text) + 1  # the current state
    with db.sessions.begin() as s:
        assert access.load_state(site.world.ctx(s, "applicant"), uuid.UUID(app_id)).title == "Mine"
    # the same for a command form
    r = them.post(f"/applications/{app_id}/command", {"command": "submit", "version": version_of(theirs.text)})
    assert r.status_code == 409 and "Someone changed this application" in r.text


def test_strangers_get_404_and_anonymous_people_sign_in(site, fake_form):
    _me, app_id = start(site)
    stranger = site.browser("stranger")
    for path in (f"/applications/{app_id}", f"/applications/{app_id}/edit", f"/applications/{app_id}/withdraw"):
        assert stranger.get(path).status_code == 404, path
    assert stranger.post(f"/applications/{app_id}/edit", {"version": 1, "title": "Mine now"}).status_code == 404
    assert stranger.post(f"/applications/{app_id}/command", {"command": "withdraw", "confirm": "yes"}).status_code == 404
    assert stranger.post(f"/applications/{app_id}/messages", {"audience": "applicant", "body": "hi"}).status_code == 404
    assert app_id not in stranger.get("/applications").text
    # a custodian sees nothing of a draft either
    assert site.browser("manager_A").get(f"/applications/{app_id}").status_code == 404
    anon = site.browser(None)
    r = anon.get(f"/applications/{app_id}")
    assert r.status_code == 303 and f"/login?next=%2Fapplications%2F{app_id}" in r.headers["location"]
    r = anon.post(f"/applications/{app_id}/edit", {"version": 1, "title": "x"})
    assert r.status_code == 303 and "/login?next=" in r.headers["location"]
    assert stranger.get(f"/applications/{uuid.uuid4()}").status_code == 404
    assert stranger.get("/applications/not-an-id").status_code == 404


def test_collaborators_edit_but_neither_withdraw_nor_invite(site, fake_form, db):
    me, app_id = start(site)
    page = me.get(f"/applications/{app_id}")
    r = me.post(f"/applications/{app_id}/collaborators", {"action": "invite", "email": "nobody@example.org",
                                                          "version": version_of(page.text)})
    assert r.status_code == 422 and 'href="#f-email"' in r.text and "ask them to register first" in r.text
    r = me.post(f"/applications/{app_id}/collaborators", {"action": "invite", "email": "applicant@example.org",
                                                          "version": version_of(page.text)})
    assert r.status_code == 422 and "is the applicant" in r.text
    r = me.post(f"/applications/{app_id}/collaborators", {"action": "invite", "email": "Collaborator@Example.org",
                                                          "version": version_of(page.text)})
    assert r.status_code == 303
    them = site.browser("collaborator")
    assert app_id in them.get("/applications").text and "collaborator" in them.get("/applications").text
    view = them.get(f"/applications/{app_id}")
    assert view.status_code == 200 and "you are a collaborator" in view.text
    assert "/withdraw" not in view.text and 'name="action" value="invite"' not in view.text
    assert 'value="remove"' not in view.text
    edit = them.get(f"/applications/{app_id}/edit")
    r = them.post(f"/applications/{app_id}/edit", {"version": version_of(edit.text), "title": "Edited together",
                                                    f"q:{PURPOSE_Q}": "Shared aim"})
    assert r.status_code == 303
    v = version_of(them.get(f"/applications/{app_id}").text)
    r = them.post(f"/applications/{app_id}/command", {"command": "withdraw", "confirm": "yes", "version": v})
    assert r.status_code == 409 and "withdraw is not allowed" in r.text
    r = them.post(f"/applications/{app_id}/collaborators", {"action": "invite", "email": "stranger@example.org",
                                                            "version": v})
    assert r.status_code == 409
    # the applicant removes them: from then on they see nothing
    owner_view = me.get(f"/applications/{app_id}")
    assert "Edited together" in owner_view.text and 'value="remove"' in owner_view.text
    r = me.post(f"/applications/{app_id}/collaborators", {"action": "remove", "version": version_of(owner_view.text),
                                                          "user_id": str(site.world.people["collaborator"])})
    assert r.status_code == 303
    assert them.get(f"/applications/{app_id}").status_code == 404


def test_return_resubmit_decisions_duo_advice_and_messages(site, fake_form, db, monkeypatch):
    w = site.world
    monkeypatch.setattr(duo, "evaluate", lambda ctx, state: [
        {"dataset_id": str(w.datasets["A1"]), "verdict": "APPROVE", "reason": "general research use fits",
         "conditions": ["IRB"]},
        {"dataset_id": str(w.datasets["B1"]), "verdict": "DENY", "reason": "commercial use is excluded",
         "conditions": []}])
    me, app_id = start(site)
    aid = uuid.UUID(app_id)
    edit = me.get(f"/applications/{app_id}/edit")
    r = me.post(f"/applications/{app_id}/edit", {"version": version_of(edit.text), "title": "Genes",
                                                  f"q:{PURPOSE_Q}": "Aim", "action": "submit"})
    assert r.status_code == 303
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), aid, "return", {"reason": "Say more about linkage"})
    page = me.get(f"/applications/{app_id}")
    assert "status-returned" in page.text and "Say more about linkage" in page.text
    assert "Make changes and resubmit" in page.text
    assert "general research use fits" in page.text and "commercial use is excluded" in page.text
    assert "Alpha cardiovascular cohort" in page.text.split('id="duo-h"')[1]
    # a message to custodian A about one question, and a note for the applicant's side only
    r = me.post(f"/applications/{app_id}/messages", {"audience": "shared", "team_id": str(w.teams["A"]),
                                                     "question_id": LINKAGE_Q, "body": "Linkage is by NHS number."})
    assert r.status_code == 303
    r = me.post(f"/applications/{app_id}/messages", {"audience": "applicant", "body": "Ask Sam about the DPIA"})
    assert r.status_code == 303
    r = me.post(f"/applications/{app_id}/messages", {"audience": "applicant", "body": "  "})
    assert r.status_code == 422 and 'href="#f-note_body"' in r.text
    with db.sessions.begin() as s:
        seen_a = [m.body for m in messages.visible(w.ctx(s, "manager_A"), "application", aid)]
        seen_b = [m.body for m in messages.visible(w.ctx(s, "manager_B"), "application", aid)]
    assert seen_a == ["Linkage is by NHS number."] and seen_b == []
    page = me.get(f"/applications/{app_id}")
    assert "Ask Sam about the DPIA" in page.text and "Will the data be linked?" in page.text
    # resubmit from the form
    edit = me.get(f"/applications/{app_id}/edit")
    assert 'value="resubmit"' in edit.text and "Alpha Health Data asks for changes" in edit.text
    r = me.post(f"/applications/{app_id}/edit", {"version": version_of(edit.text), "title": "Genes",
                                                  f"q:{LINKAGE_Q}": "By NHS number", "action": "resubmit"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=resubmitted")
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), aid, "approve_with_conditions",
                   {"conditions": ["Outputs checked before release"]})
        access.run(w.ctx(s, "manager_B"), aid, "assign_reviewers", {"reviewers": [str(w.people["reviewer_B"])]})
        access.run(w.ctx(s, "reviewer_B"), aid, "review", {"recommendation": "reject", "comment": "secret note"})
        access.run(w.ctx(s, "manager_B"), aid, "reject", {"reason": "Commercial use is excluded"})
    page = me.get(f"/applications/{app_id}")
    assert "status-partly_approved" in page.text and "Outputs checked before release" in page.text
    assert "Commercial use is excluded" in page.text
    assert "secret note" not in page.text and "Reviewers assigned" not in page.text  # custodians' internal events
    # an amendment of the approved part
    assert "Start an amendment" in page.text
    r = me.post(f"/applications/{app_id}/command", {"command": "amend", "version": version_of(page.text)})
    assert r.status_code == 303 and r.headers["location"].endswith("/edit?done=created")
    child = app_id_of(r.headers["location"])
    assert child != app_id
    edit = me.get(f"/applications/{child}/edit")
    assert "amendment" in edit.text and "Alpha cardiovascular cohort" in edit.text and "Beta genomes" not in edit.text


def test_withdraw_needs_confirmation_and_datasets_change_while_draft(site, fake_form, db):
    w = site.world
    me, app_id = start(site, keys=("A1",))
    me.post("/basket", {"dataset": str(w.datasets["B1"])})
    edit = me.get(f"/applications/{app_id}/edit")
    assert "From your basket:" in edit.text and "Beta genomes" in edit.text
    r = me.post(f"/applications/{app_id}/datasets", {"version": version_of(edit.text), "dataset": []})
    assert r.status_code == 422 and "choose at least one dataset" in r.text
    r = me.post(f"/applications/{app_id}/datasets", {"version": version_of(edit.text),
                                                     "dataset": [str(w.datasets["A1"]), str(w.datasets["B1"])]})
    assert r.status_code == 303
    with db.sessions.begin() as s:
        assert len(access.load_state(w.ctx(s, "applicant"), uuid.UUID(app_id)).teams) == 2
    page = me.get(f"/applications/{app_id}/withdraw")
    assert page.status_code == 200 and "This cannot be undone" in page.text
    r = me.post(f"/applications/{app_id}/command", {"command": "withdraw", "version": version_of(page.text),
                                                    "reason": "Funding fell through"})
    assert r.status_code == 422 and 'href="#f-confirm"' in r.text and "Funding fell through" in r.text
    r = me.post(f"/applications/{app_id}/command", {"command": "withdraw", "version": version_of(page.text),
                                                    "reason": "Funding fell through", "confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=withdrawn")
    page = me.get(f"/applications/{app_id}")
    assert "status-withdrawn" in page.text and "Funding fell through" in page.text
    assert "/withdraw" not in page.text and 'action="/applications/' + app_id + '/edit"' not in page.text
    assert 'name="version"' not in page.text  # no command left to run
    r = me.post(f"/applications/{app_id}/command", {"command": "resubmit"})
    assert r.status_code == 409 and "not allowed" in r.text
    assert me.post(f"/applications/{app_id}/command", {"command": "approve"}).status_code == 422
