"""The forms' pages on both databases: a team builds and publishes its form in the workspace, the admin's
question bank page, the fields partial (one input per component, required marks, follow-ups tagged for the
script, accessible labels) and the printable application."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from healthgate.access import forms
from healthgate.access import service as access
from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import sessions
from healthgate.identity.models import User
from healthgate.identity.permissions import SYSTEM
from healthgate.web.templates import env
from tests.access.harness import Q1, Q2, build

LAWFUL6 = "safedata.lawful-basis.article-6-lawful-basis"
OPT_OUT = "safedata.national-data-opt-out.applies"
EXEMPTION = "safedata.national-data-opt-out.applies.exemption"


@pytest.fixture
def site(db, clock, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, rate_limit_anonymous="off"), clock=clock)
    w = build(app.state.sessions, clock)

    def browser(who: str) -> TestClient:
        with app.state.sessions.begin() as s:
            cookie = sessions.start(Context(s, SYSTEM, clock), s.get(User, w.people[who]), "password")
        return TestClient(app, cookies={sessions.COOKIE: cookie})

    yield app, w, browser
    app.state.engine.dispose()


def _csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_team_builds_and_publishes_its_form(site):
    _app, w, browser = site
    manager = browser("manager_A")
    url = f"/workspace/teams/{w.teams['A']}/access/form"
    page = manager.get(url)
    assert page.status_code == 200, page.text[:300]
    assert "National data opt-out" in page.text and 'value="safedata.lawful-basis.article-6-lawful-basis"' in page.text
    posted = {"csrf_token": _csrf(page), "include": [Q1, LAWFUL6, Q2], "required": [Q1],
              f"guidance:{Q1}": "Keep it short", f"show_if:{Q2}": f"{LAWFUL6}::Not applicable"}
    saved = manager.post(url, data=posted, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:500]
    page = manager.get(url)
    assert "unpublished draft (version 2)" in page.text and "Keep it short" in page.text
    published = manager.post(f"{url}/publish", data={"csrf_token": _csrf(page)}, follow_redirects=False)
    assert published.status_code == 303
    page = manager.get(url + "?done=published")
    assert "your published version 2" in page.text
    bad = manager.post(url, data={"csrf_token": _csrf(page), "include": ["no.such.question"]})
    assert bad.status_code == 422 and "no question no.such.question" in bad.text
    reviewer = browser("reviewer_A")
    assert reviewer.get(url).status_code == 200
    refused = reviewer.post(url, data={"csrf_token": _csrf(reviewer.get(url)), "include": [Q1]},
                            follow_redirects=False)
    assert refused.status_code == 403
    assert browser("stranger").get(url).status_code == 403


def test_admin_question_bank_page(site):
    _app, _w, browser = site
    admin = browser("admin")
    page = admin.get("/admin/access/question-bank")
    assert page.status_code == 200 and OPT_OUT in page.text and "Version 1" in page.text
    added = admin.post("/admin/access/question-bank/questions", follow_redirects=False, data={
        "csrf_token": _csrf(page), "section": "safeoutputs", "subsection": "Retention", "title": "Where is the archive?",
        "component": "TextArea", "version": "1"})
    assert added.status_code == 303, added.text[:500]
    page = admin.get("/admin/access/question-bank")
    assert "safeoutputs.retention.where-archive" in page.text and "Version 2" in page.text
    edited = admin.post(f"/admin/access/question-bank/questions/{LAWFUL6}/edit", follow_redirects=False, data={
        "csrf_token": _csrf(page), "title": "Article 6 lawful basis", "guidance": "Choose one", "version": "2"})
    assert edited.status_code == 303
    retired = admin.post("/admin/access/question-bank/questions/safeoutputs.retention.where-archive/retire",
                         data={"csrf_token": _csrf(page)}, follow_redirects=False)
    assert retired.status_code == 303
    assert "Version 4" in admin.get("/admin/access/question-bank").text
    assert browser("manager_A").get("/admin/access/question-bank").status_code == 403


def test_fields_partial_renders_every_component():
    questions = [
        forms.Question(id="t.text", title="Full name", guidance="Your name", component="TextField", required=True,
                       answer="Ada"),
        forms.Question(id="t.area", title="Lay summary", guidance="", component="TextArea"),
        forms.Question(id="t.radio", title="Opt out applies?", guidance="", component="RadioGroup",
                       options=("Yes", "No"), answer="No"),
        forms.Question(id="t.follow", title="Why not?", guidance="", component="TextArea",
                       show_if=("t.radio", "No"), depth=1, required=True),
        forms.Question(id="t.checks", title="Nations", guidance="", component="CheckboxGroup",
                       options=("England", "Wales"), answer=["Wales"]),
        forms.Question(id="t.date", title="Start", guidance="", component="DatePicker", answer="2026-03-01"),
        forms.Question(id="t.files", title="Files", guidance="", component="FileUploadMultiple"),
    ]
    form = forms.ApplicationForm(sections=(forms.Section("safedata", "Safe data", "About it", tuple(questions)),))
    html = env.get_template("access/forms/_fields.html").render(
        form=form, errors={"t.area": "Lay summary is required"}, url_for=lambda name, path: f"/static/{path}")
    assert '<label for="f-t.text">Full name <span class="dar-req">(required)</span></label>' in html
    assert 'id="f-t.text" name="q:t.text" value="Ada" aria-required="true" aria-describedby="g-t.text"' in html
    assert '<textarea id="f-t.area" name="q:t.area" rows="5" aria-describedby="e-t.area">' in html
    assert 'type="radio"\n        name="q:t.radio" value="No" checked' in html
    assert 'data-show-if="q:t.radio" data-show-value="No"' in html and "Answer if you chose “No” for “Opt out" in html
    assert 'type="checkbox"\n        name="q:t.checks" value="Wales" checked' in html
    assert 'type="date" id="f-t.date" name="q:t.date" value="2026-03-01"' in html
    assert 'type="file" id="f-t.files" name="file:t.files" multiple' in html
    assert "<script>" not in html and 'src="/static/access-forms.js"' in html


def test_printable_application(site):
    app, w, browser = site
    with app.state.sessions.begin() as s:
        ctx = w.ctx(s, "applicant")
        app_id = access.create(ctx, [w.datasets["A1"], w.datasets["B1"]], title="Heart and genes").id
        access.run(ctx, app_id, "save", {"answers": {Q1: "Heart outcomes study", Q2: "Linked by NHS number"}})
        access.run(ctx, app_id, "submit")
    with app.state.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "approve_with_conditions", {"conditions": ["Outputs checked"]})
        access.run(w.ctx(s, "manager_B"), app_id, "reject", {"reason": "Out of scope"})
    page = browser("applicant").get(f"/applications/{app_id}/print")
    assert page.status_code == 200
    for text in ("Heart and genes", "Alpha cardiovascular cohort", "Beta genomes", "Heart outcomes study",
                 "Linked by NHS number", "Outputs checked", "Out of scope", "approved with conditions",
                 "access-forms.css"):
        assert text in page.text, text
    custodian = browser("reviewer_A").get(f"/applications/{app_id}/print")
    assert custodian.status_code == 200 and "Outputs checked" in custodian.text
    assert "Out of scope" not in custodian.text  # another custodian's reason
    assert browser("stranger").get(f"/applications/{app_id}/print").status_code == 404
