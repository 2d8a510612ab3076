"""The forms API on both databases: the question bank (read by anyone, changed by an admin), team templates,
an application's form with what is missing, and attachments (size, type by content, who may)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from healthgate.access import service as access
from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import tokens
from healthgate.identity.models import User
from healthgate.identity.permissions import SYSTEM
from tests.access.forms.test_attachments import EXE, PDF
from tests.access.harness import Q1, Q2, build

LAWFUL6 = "safedata.lawful-basis.article-6-lawful-basis"


@pytest.fixture
def api(db, clock, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=db.url, rate_limit_anonymous="off",
                        rate_limit_expensive="off", rate_limit_failed_auth="off", attachment_max_bytes=4096)
    app = create_app(settings, clock=clock)
    w = build(app.state.sessions, clock)
    auth = {}
    with app.state.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        for who, team in (("applicant", None), ("stranger", None), ("manager_A", "A"), ("reviewer_A", "A"),
                          ("manager_B", "B"), ("admin", None)):
            scope = "admin" if who == "admin" else "write"  # applicants: a personal write token
            value = tokens.create_token(ctx, s.get(User, w.people[who]), who, scope=scope,
                                        teams=[w.teams[team]] if team else [])
            auth[who] = {"Authorization": f"Bearer {value}"}
    with TestClient(app) as client:
        yield client, w, auth, app
    app.state.engine.dispose()


def test_question_bank_read_by_anyone_changed_by_admins(api):
    client, _, auth, _ = api
    got = client.get("/api/v1/access/question-bank")
    assert got.status_code == 200
    body = got.json()
    assert body["version"] == 1
    assert [s["key"] for s in body["sections"]][:5] == ["safepeople", "safeproject", "safedata", "safesettings",
                                                        "safeoutputs"]
    new = {"section": "safesettings", "subsection": "Storage and processing", "title": "Which cloud region?",
           "component": "TextField"}
    assert client.post("/api/v1/access/question-bank/questions", json=new).status_code == 401
    assert client.post("/api/v1/access/question-bank/questions", json=new,
                       headers=auth["manager_A"]).status_code == 403
    added = client.post("/api/v1/access/question-bank/questions", json=new, headers=auth["admin"])
    assert added.status_code == 201, added.text
    assert added.json() == {"version": 2, "question_id": "safesettings.storage-processing.cloud-region"}
    edited = client.patch(f"/api/v1/access/question-bank/questions/{LAWFUL6}", headers=auth["admin"],
                          json={"guidance": "Pick one", "expected_version": 2})
    assert edited.json()["version"] == 3
    stale = client.patch(f"/api/v1/access/question-bank/questions/{LAWFUL6}", headers=auth["admin"],
                         json={"guidance": "Again", "expected_version": 2})
    assert stale.status_code == 409
    assert client.delete("/api/v1/access/question-bank/questions/safesettings.storage-processing.cloud-region",
                         headers=auth["admin"]).json()["version"] == 4
    assert [v["version"] for v in client.get("/api/v1/access/question-bank/versions").json()] == [4, 3, 2, 1]
    assert client.get("/api/v1/access/question-bank?version=9").status_code == 404


def test_team_template_read_write_publish(api):
    client, w, auth, _ = api
    url = f"/api/v1/teams/{w.teams['A']}/access/template"
    body = {"questions": [{"id": Q1, "required": True, "guidance": "Short title"},
                          {"id": LAWFUL6, "required": True},
                          {"id": Q2, "show_if": {"question": LAWFUL6, "value": "Not applicable"}}]}
    assert client.put(url, json=body, headers=auth["reviewer_A"]).status_code == 403
    assert client.put(url, json=body, headers=auth["manager_B"]).status_code == 403
    saved = client.put(url, json=body, headers=auth["manager_A"])
    assert saved.status_code == 200, saved.text
    assert saved.json()["status"] == "draft" and saved.json()["version"] == 2
    bad = client.put(url, json={"questions": [{"id": "no.such"}]}, headers=auth["manager_A"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "questions/0/id"
    published = client.post(f"{url}/publish", headers=auth["manager_A"])
    assert published.json()["status"] == "published"
    state = client.get(url, headers=auth["reviewer_A"]).json()
    assert state["current"] == published.json()["id"] and state["draft"] is None
    assert [v["version"] for v in state["versions"]] == [2, 1]
    assert client.get(url, headers=auth["stranger"]).status_code == 403


def test_application_form_and_missing_answers(api):
    client, w, auth, app = api
    client.put(f"/api/v1/teams/{w.teams['B']}/access/template", headers=auth["manager_B"],
               json={"questions": [{"id": Q1, "required": True}, {"id": LAWFUL6, "required": True}]})
    client.post(f"/api/v1/teams/{w.teams['B']}/access/template/publish", headers=auth["manager_B"])
    with app.state.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]]).id
    form = client.get(f"/api/v1/applications/{app_id}/form", headers=auth["applicant"])
    assert form.status_code == 200, form.text
    body = form.json()
    ids = [q["id"] for s in body["sections"] for q in s["questions"]]
    assert ids.count(Q1) == 1 and LAWFUL6 in ids and Q2 in ids
    q1 = next(q for s in body["sections"] for q in s["questions"] if q["id"] == Q1)
    assert q1["required"] and q1["asked_by"] == ["Alpha Health Data", "Beta Biobank"]
    assert {m["path"] for m in body["missing"]} == {f"answers/{Q1}", f"answers/{LAWFUL6}"}
    assert client.get(f"/api/v1/applications/{app_id}/form", headers=auth["stranger"]).status_code == 404


def test_attachments_over_the_api(api):
    client, w, auth, app = api
    with app.state.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
    url = f"/api/v1/applications/{app_id}/attachments"
    exe = client.post(url, headers=auth["applicant"], files={"file": ("protocol.pdf", EXE, "application/pdf")})
    assert exe.status_code == 415 and exe.json()["errors"][0]["path"] == "file"
    big = client.post(url, headers=auth["applicant"], files={"file": ("big.pdf", PDF + b"0" * 5000)})
    assert big.status_code == 413
    added = client.post(url, headers=auth["applicant"], files={"file": ("protocol.pdf", PDF, "application/pdf")})
    assert added.status_code == 201, added.text
    att = added.json()["id"]
    assert client.post(url, headers=auth["stranger"], files={"file": ("x.pdf", PDF)}).status_code == 404
    assert [a["id"] for a in client.get(url, headers=auth["applicant"]).json()] == [att]
    got = client.get(f"{url}/{att}", headers=auth["applicant"])
    assert got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert "attachment" in got.headers["content-disposition"]
    assert client.get(f"{url}/{att}", headers=auth["manager_A"]).status_code == 404  # a draft
    assert client.delete(f"{url}/{att}", headers=auth["applicant"]).status_code == 204
    assert client.get(f"{url}/{att}", headers=auth["applicant"]).status_code == 404
