"""The custodian's pages over HTTP, on both databases: the queue and its filters, a part's page, returning,
assigning reviewers, reviewing and deciding through the forms, stale versions and wrong states (409, never a
lost update), messages and internal notes (never shown to the applicant or another team), enquiries, and who
gets 403/404."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from healthgate.access import enquiries, messages
from healthgate.access import lifecycle as lc
from tests.access.custodian.site import Site, csrf, post, version


@pytest.fixture
def site(db, clock, tmp_path):
    return Site(db, clock, tmp_path)


def _text(html: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", html))


def _body(html: str) -> str:
    return html.split("</head>", 1)[1]


def test_queue_lists_the_teams_parts_with_filters(site):
    only_a = site.submitted("A1", title="Alpha only study")
    both = site.submitted("A2", "B1", title="Two custodians study")
    site.run("manager_A", both, "return", {"reason": "Say more"})
    manager = site.browser("manager_A")
    page = manager.get(f"/workspace/teams/{site.slug['A']}/applications")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Alpha only study" in text and "Two custodians study" in text
    assert "Applicant" in text  # the applicant's name
    assert "Alpha renal registry" in text and "Beta genomes" not in text  # this team's datasets only
    assert "<script" not in _body(page.text)  # no inline script (CSP)
    returned = _text(manager.get(f"/workspace/teams/{site.slug['A']}/applications?state=returned").text)
    assert "Two custodians study" in returned and "Alpha only study" not in returned
    waiting = _text(manager.get(f"/workspace/teams/{site.slug['A']}/applications?state=submitted").text)
    assert "Alpha only study" in waiting and "Two custodians study" not in waiting
    assert "No applications in this state" in _text(
        manager.get(f"/workspace/teams/{site.slug['A']}/applications?state=decided").text)
    assert manager.get(f"/workspace/teams/{site.slug['A']}/applications?state=nonsense").status_code == 422
    # B sees only the application that asks it, with its own part's state
    b = _text(site.browser("manager_B").get(f"/workspace/teams/{site.slug['B']}/applications").text)
    assert "Two custodians study" in b and "Alpha only study" not in b
    # a reviewer reads the queue; someone outside the team may not
    assert site.browser("reviewer_A").get(f"/workspace/teams/{site.slug['A']}/applications").status_code == 200
    assert site.browser("manager_B").get(f"/workspace/teams/{site.slug['A']}/applications").status_code == 403
    assert site.browser("stranger").get(f"/workspace/teams/{site.slug['A']}/applications").status_code == 403
    # the workspace team page links to it for the team's access people
    team_page = manager.get(f"/workspace/teams/{site.slug['A']}").text
    assert f'href="/workspace/teams/{site.slug["A"]}/applications"' in team_page
    assert only_a


def test_return_assign_review_and_decide_through_the_pages(site):
    app_id = site.submitted("A1", "B1")
    w = site.w
    manager = site.browser("manager_A")
    token = csrf(manager)
    page = manager.get(site.part_url("A", app_id))
    assert page.status_code == 200
    assert "Beta Biobank: waiting for the custodian" in _text(page.text)  # the other part's state only
    # return, with a reason (a missing reason is refused, naming the field)
    r = post(manager, site.part_url("A", app_id, "return"), {"version": version(page.text)}, token)
    assert r.status_code == 422 and "reason" in _text(r.text)
    r = post(manager, site.part_url("A", app_id, "return"), {"version": version(page.text), "reason": "Linkage?"},
             token)
    assert r.status_code == 303, r.text[:400]
    assert site.state(app_id).parts[w.teams["A"]].state == lc.PartState.RETURNED
    assert "Returned to the applicant" in _text(manager.get(site.part_url("A", app_id)).text)
    site.run("applicant", app_id, "resubmit")
    # assign a reviewer, with a phase and a due date
    page = manager.get(site.part_url("A", app_id)).text
    assert 'name="reviewers"' in page and "Reviewer A" in page
    r = post(manager, site.part_url("A", app_id, "assign"), {
        "version": version(page), "reviewers": str(w.people["reviewer_A"]), "phase": "committee",
        "due": "2026-02-20"}, token)
    assert r.status_code == 303, r.text[:400]
    part = site.state(app_id).parts[w.teams["A"]]
    assert part.state == lc.PartState.IN_REVIEW and part.phase == "committee"
    # the assigned reviewer reviews
    reviewer = site.browser("reviewer_A")
    page = reviewer.get(site.part_url("A", app_id)).text
    assert 'id="form-review"' in page and 'id="form-approve"' not in page
    r = post(reviewer, site.part_url("A", app_id, "review"), {
        "version": version(page), "recommendation": "approve_with_conditions", "comment": "Fine with checks"})
    assert r.status_code == 303, r.text[:400]
    text = _text(manager.get(site.part_url("A", app_id)).text)
    assert "Fine with checks" in text and "Reviews" in text
    # the reviews are the team's: neither the other team nor the applicant reads them
    assert "Fine with checks" not in _text(site.browser("manager_B").get(site.part_url("B", app_id)).text)
    # approve with conditions, one per line
    page = manager.get(site.part_url("A", app_id)).text
    r = post(manager, site.part_url("A", app_id, "approve-with-conditions"), {
        "version": version(page), "conditions": "Outputs checked\n\nNo linkage beyond the study\n"}, token)
    assert r.status_code == 303, r.text[:400]
    part = site.state(app_id).parts[w.teams["A"]]
    assert part.state == lc.PartState.APPROVED_WITH_CONDITIONS
    assert part.conditions == ("Outputs checked", "No linkage beyond the study")
    # B rejects its own part
    b = site.browser("manager_B")
    page = b.get(site.part_url("B", app_id)).text
    r = post(b, site.part_url("B", app_id, "reject"), {"version": version(page), "reason": "Out of scope"})
    assert r.status_code == 303
    assert site.state(app_id).status == lc.Status.PARTLY_APPROVED
    text = _text(b.get(site.part_url("B", app_id)).text)
    assert "Alpha Health Data: approved with conditions" in text and "Out of scope" in text
    assert "Outputs checked" not in text  # A's conditions are A's
    # A closes its decided part
    page = manager.get(site.part_url("A", app_id)).text
    r = post(manager, site.part_url("A", app_id, "close"), {"version": version(page)}, token)
    assert r.status_code == 303
    assert site.state(app_id).parts[w.teams["A"]].state == lc.PartState.CLOSED


def test_a_stale_form_is_refused_and_shows_the_current_state(site):
    app_id = site.submitted("A1")
    manager = site.browser("manager_A")
    token = csrf(manager)
    read = version(manager.get(site.part_url("A", app_id)).text)
    # meanwhile another access manager assigns a reviewer
    site.run("manager_A", app_id, "assign_reviewers", {"reviewers": [str(site.w.people["reviewer_A"])]})
    r = post(manager, site.part_url("A", app_id, "reject"), {"version": read, "reason": "No"}, token)
    assert r.status_code == 409
    text = _text(r.text)
    assert "Someone changed this application since you opened it" in text and "in review" in text
    assert version(r.text) != read  # the forms on the answer carry the version it shows
    assert site.state(app_id).parts[site.w.teams["A"]].state == lc.PartState.IN_REVIEW  # nothing lost, nothing won


def test_a_command_in_the_wrong_state_shows_the_allowed_ones(site):
    app_id = site.submitted("A1")
    site.run("manager_A", app_id, "approve")
    manager = site.browser("manager_A")
    page = manager.get(site.part_url("A", app_id)).text
    assert 'id="form-close"' in page and 'id="form-return"' not in page
    r = post(manager, site.part_url("A", app_id, "return"), {"version": version(page), "reason": "More"})
    assert r.status_code == 409
    text = _text(r.text)
    assert "That cannot be done now" in text and "You may now: Close" in text
    assert site.state(app_id).parts[site.w.teams["A"]].state == lc.PartState.APPROVED
    # a missing version is refused too (every command form carries the one it read)
    r = post(manager, site.part_url("A", app_id, "close"), {})
    assert r.status_code == 422


def test_a_reviewer_who_is_not_assigned_cannot_review(site):
    app_id = site.submitted("A1")
    site.run("manager_A", app_id, "assign_reviewers", {"reviewers": [str(site.w.people["manager_A"])]})
    reviewer = site.browser("reviewer_A")
    page = reviewer.get(site.part_url("A", app_id))
    assert page.status_code == 200 and 'id="form-review"' not in page.text  # reads it, may not review
    r = post(reviewer, site.part_url("A", app_id, "review"),
             {"version": version(page.text) if 'name="version"' in page.text else str(site.state(app_id).version),
              "recommendation": "approve"})
    assert r.status_code == 403
    r = post(reviewer, site.part_url("A", app_id, "approve"), {"version": str(site.state(app_id).version)})
    assert r.status_code == 403  # nor decide
    assert site.state(app_id).parts[site.w.teams["A"]].reviews == ()


def test_team_b_gets_404_on_team_as_part(site):
    only_a = site.submitted("A1")
    both = site.submitted("A1", "B1")
    b = site.browser("manager_B")
    token = csrf(b)
    assert b.get(site.part_url("A", only_a)).status_code == 404
    assert b.get(site.part_url("B", only_a)).status_code == 404  # B's URL, an application B is not asked
    assert b.get(site.part_url("A", both)).status_code == 404  # A's part of an application B is also on
    assert b.get(site.part_url("B", both)).status_code == 200
    v = str(site.state(both).version)
    assert post(b, site.part_url("A", both, "reject"), {"version": v, "reason": "x"}, token).status_code == 404
    assert post(b, site.part_url("A", both, "messages"), {"body": "hello", "audience": "team"},
                token).status_code == 404
    assert b.get(site.part_url("A", "not-an-id")).status_code == 404
    assert site.browser("applicant").get(site.part_url("A", both)).status_code == 404  # applicants use their pages
    assert site.state(both).parts[site.w.teams["A"]].state == lc.PartState.SUBMITTED


def test_internal_notes_stay_with_the_team(site):
    app_id = site.submitted("A1", "B1")
    manager = site.browser("manager_A")
    token = csrf(manager)
    assert post(manager, site.part_url("A", app_id, "messages"),
                {"audience": "team", "body": "Check the ethics letter date"}, token).status_code == 303
    assert post(manager, site.part_url("A", app_id, "messages"),
                {"audience": "shared", "body": "Please send the ethics letter"}, token).status_code == 303
    r = post(manager, site.part_url("A", app_id, "messages"), {"audience": "shared", "body": "  "}, token)
    assert r.status_code == 422
    r = post(manager, site.part_url("A", app_id, "messages"), {"audience": "applicant", "body": "x"}, token)
    assert r.status_code == 422
    text = _text(manager.get(site.part_url("A", app_id)).text)
    assert "Check the ethics letter date" in text and "Please send the ethics letter" in text
    # the reviewer of the same team reads the note
    assert "Check the ethics letter date" in _text(site.browser("reviewer_A").get(site.part_url("A", app_id)).text)
    # the other team sees neither A's note nor A's conversation
    b_text = _text(site.browser("manager_B").get(site.part_url("B", app_id)).text)
    assert "ethics letter" not in b_text
    # the applicant reads the message, never the note
    with site.db.sessions() as s:
        bodies = [m.body for m in messages.visible(site.w.ctx(s, "applicant"), "application", app_id)]
    assert "Please send the ethics letter" in bodies and "Check the ethics letter date" not in bodies
    # an applicant's reply to A shows on A's page, not on B's
    with site.db.sessions.begin() as s:
        messages.post(site.w.ctx(s, "applicant"), "application", app_id, "Letter attached", team_id=site.w.teams["A"])
    assert "Letter attached" in _text(manager.get(site.part_url("A", app_id)).text)
    assert "Letter attached" not in _text(site.browser("manager_B").get(site.part_url("B", app_id)).text)


def test_enquiries_inbox_and_reply(site):
    w = site.w
    with site.db.sessions.begin() as s:
        enquiry = enquiries.open_enquiry(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]],
                                         "Cohort size for over-80s?", "How many people over 80?", kind="feasibility")
        enquiry_id = enquiry.id
    manager = site.browser("manager_A")
    inbox = manager.get(f"/workspace/teams/{site.slug['A']}/enquiries")
    assert inbox.status_code == 200
    assert "Cohort size for over-80s?" in _text(inbox.text) and "awaiting our reply" in _text(inbox.text)
    url = f"/workspace/teams/{site.slug['A']}/enquiries/{enquiry_id}"
    page = manager.get(url)
    assert "How many people over 80?" in _text(page.text) and "Beta genomes" not in _text(page.text)
    token = csrf(manager)
    assert post(manager, url + "/messages", {"body": "About 12,000 people."}, token).status_code == 303
    assert post(manager, url + "/messages", {"body": "Ask the registry lead", "audience": "team"},
                token).status_code == 303
    assert post(manager, url + "/messages", {"body": ""}, token).status_code == 422
    text = _text(manager.get(url).text)
    assert "About 12,000 people." in text and "Ask the registry lead" in text
    with site.db.sessions() as s:
        bodies = [m.body for m in messages.visible(w.ctx(s, "applicant"), "enquiry", enquiry_id)]
    assert "About 12,000 people." in bodies and "Ask the registry lead" not in bodies
    b = site.browser("manager_B")
    b_text = _text(b.get(f"/workspace/teams/{site.slug['B']}/enquiries/{enquiry_id}").text)
    assert "How many people over 80?" in b_text and "12,000" not in b_text and "registry lead" not in b_text
    assert b.get(url).status_code == 404  # A's side of the thread
    assert b.get(f"/workspace/teams/{site.slug['A']}/enquiries").status_code == 403
    assert site.browser("stranger").get(url).status_code == 404


def test_bad_command_input_is_refused_beside_the_form(site):
    app_id = site.submitted("A1")
    manager = site.browser("manager_A")
    token = csrf(manager)
    v = version(manager.get(site.part_url("A", app_id)).text)
    for data in ({"reviewers": "not-an-id"}, {"reviewers": str(site.w.people["stranger"])}, {}):
        r = post(manager, site.part_url("A", app_id, "assign"), {"version": v, "phase": "panel", **data}, token)
        assert r.status_code == 422, data
        assert 'id="assign-errors"' in r.text and 'value="panel"' in r.text  # shown by the form, input kept
    r = post(manager, site.part_url("A", app_id, "approve-with-conditions"), {"version": v, "conditions": " \n "},
             token)
    assert r.status_code == 422 and "give at least one condition" in _text(r.text)
    site.run("manager_A", app_id, "assign_reviewers", {"reviewers": [str(site.w.people["reviewer_A"])]})
    reviewer = site.browser("reviewer_A")
    v = version(reviewer.get(site.part_url("A", app_id)).text)
    r = post(reviewer, site.part_url("A", app_id, "review"), {"version": v, "comment": "no choice made"})
    assert r.status_code == 422 and "no choice made" in r.text
    assert site.state(app_id).parts[site.w.teams["A"]].reviews == ()


def test_clock_flags_and_suggested_conditions_show_when_their_modules_answer(site, monkeypatch):
    from datetime import date

    from healthgate.access import clocks, duo

    app_id = site.submitted("A1")
    monkeypatch.setattr(clocks, "part_clock", lambda ctx, a, t: clocks.PartClock(
        working_days=63, paused=False, step="decision", due_on=date(2026, 1, 10), flag="overdue"))
    monkeypatch.setattr(duo, "conditions_for", lambda ctx, state, team_id: ["Publish results (DUO:0000019)"],
                        raising=False)
    manager = site.browser("manager_A")
    queue = _text(manager.get(f"/workspace/teams/{site.slug['A']}/applications").text)
    assert "63 working days" in queue and "overdue" in queue and "decision due 10 Jan 2026" in queue
    page = manager.get(site.part_url("A", app_id)).text
    assert "63 working days" in _text(page)
    assert re.search(r'<textarea id="conditions"[^>]*>Publish results \(DUO:0000019\)</textarea>', page)


def test_duo_advice_shows_for_the_teams_own_datasets(site, monkeypatch):
    from healthgate.access import duo

    w = site.w
    monkeypatch.setattr(duo, "evaluate", lambda ctx, state: [
        {"dataset_id": str(w.datasets["A1"]), "verdict": "APPROVE", "reason": "GRU allows any research",
         "reasons": [{"verdict": "APPROVE", "text": "GRU allows any research", "source": "V3"}], "conditions": []},
        {"dataset_id": str(w.datasets["B1"]), "verdict": "DENY", "reason": "NCU forbids commercial use",
         "reasons": [{"verdict": "DENY", "text": "NCU forbids commercial use", "source": "V3"}],
         "conditions": []}])
    app_id = site.submitted("A1", "B1")
    text = _text(site.browser("manager_A").get(site.part_url("A", app_id)).text)
    assert "GRU allows any research" in text and "NCU forbids commercial use" not in text
    assert "NCU forbids commercial use" in _text(site.browser("manager_B").get(site.part_url("B", app_id)).text)


def test_answers_show_by_five_safes_section(site, monkeypatch):
    from healthgate.access import forms

    app_id = site.submitted("A1")
    question = forms.Question(id="safeproject-aims", title="What are the aims of the project?", guidance="",
                              component="TextArea", required=True, answer="To compare stroke outcomes")
    monkeypatch.setattr(forms, "form_for", lambda ctx, state: forms.ApplicationForm(sections=(
        forms.Section(key="safeproject", title="Safe project", description="", questions=(question,)),)))
    manager = site.browser("manager_A")
    page = manager.get(site.part_url("A", app_id)).text
    text = _text(page)
    assert "Safe project" in text and "What are the aims of the project?" in text
    assert "To compare stroke outcomes" in text
    assert '<option value="safeproject-aims">' in page  # a message may be about one question
    r = post(manager, site.part_url("A", app_id, "messages"),
             {"audience": "shared", "body": "Which outcomes?", "question_id": "safeproject-aims"})
    assert r.status_code == 303
    shown = " ".join(_text(manager.get(site.part_url("A", app_id)).text).split())
    assert "about What are the aims of the project?" in shown
