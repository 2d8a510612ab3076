"""The alliance's pages and API: the public members page and statistics (charts with tables, CSV), the admin's
compliance dashboard (filters, CSV), the member forms and letters of intent (CSRF, labelled fields, file checks),
and who may do what. On both databases."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.identity import tokens
from healthgate.identity.models import User
from tests.access.clocks.conftest import move_to
from tests.alliance.conftest import ROR_GAMMA, add_member, register_entry
from tests.conftest import signed_in

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def app(db, clock, tmp_path):
    return create_app(Settings(data_dir=tmp_path, database_url=db.url, rate_limit_anonymous="off",
                               rate_limit_expensive="off"), clock=clock)


def _token(db, w, who: str, scope: str) -> dict[str, str]:
    with db.sessions.begin() as s:
        value = tokens.create_token(w.ctx(s, "system"), s.get(User, w.people[who]), "t", scope=scope)
    return {"Authorization": f"Bearer {value}"}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_public_members_page_grouped_by_wave(app, db, world, clock):
    w = world
    add_member(db, w, "alpha", joined="2025-11-03")
    add_member(db, w, "gamma", joined="2026-01-15", wave="2026 Q2")
    add_member(db, w, "delta", "funder", joined="2026-01-15", public=False)
    page = TestClient(app).get("/members")
    assert page.status_code == 200
    html = page.text
    assert "Alpha Health Data" in html and "Gamma Health Board" in html and "Delta Research Fund" not in html
    assert html.index("2026 Q2") < html.index("2025 Q4")  # newest wave first
    assert "Data custodian" in html and "<script" not in html
    api = TestClient(app).get("/api/v1/alliance/members").json()
    assert api["total"] == 2 and api["items"][0]["wave"] == "2026 Q2"
    assert api["items"][1]["organisation"]["ror_id"] == "02wnqcb97"
    # the admin sees the hidden member too
    admin = TestClient(app, headers=_token(db, w, "admin", "admin"))
    assert admin.get("/api/v1/alliance/members?everyone=true").json()["total"] == 3
    hidden = next(i for i in admin.get("/api/v1/alliance/members?everyone=true").json()["items"]
                  if i["organisation"]["name"] == "Delta Research Fund")
    assert TestClient(app).get(f"/api/v1/alliance/members/{hidden['id']}").status_code == 404
    assert TestClient(app).get(f"/members/{hidden['id']}").status_code == 404
    detail = TestClient(app).get(f"/members/{api['items'][0]['id']}")
    assert detail.status_code == 200 and "Gamma Health Board" in detail.text


def test_api_members_writes_are_the_admins(app, db, world):
    w = world
    admin = TestClient(app, headers=_token(db, w, "admin", "admin"))
    body = {"organisation": ROR_GAMMA, "member_type": "data-custodian", "join_date": "2026-08-14"}
    for who, scope in (("manager_A", "write"), ("applicant", "write")):
        assert TestClient(app, headers=_token(db, w, who, scope)).post("/api/v1/alliance/members",
                                                                        json=body).status_code == 403
    assert TestClient(app).post("/api/v1/alliance/members", json=body).status_code == 401
    made = admin.post("/api/v1/alliance/members", json=body)
    assert made.status_code == 201, made.text
    member = made.json()
    assert member["wave"] == "2026 Q3" and member["organisation"]["name"] == "Gamma Health Board"  # proposed
    assert made.headers["location"].endswith(f"/api/v1/alliance/members/{member['id']}")
    again = admin.post("/api/v1/alliance/members", json=body)
    assert again.status_code == 409 and again.json()["errors"][0]["path"] == "organisation"
    bad = admin.post("/api/v1/alliance/members", json={**body, "organisation": "nowhere", "member_type": "friend",
                                                       "join_date": "2026-02-30"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    paths = {e["path"] for e in bad.json()["errors"]}
    assert {"$.member_type", "$.join_date"} <= paths
    unknown = admin.post("/api/v1/alliance/members", json={**body, "organisation": "nowhere-at-all"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["path"] == "organisation"
    put = admin.put(f"/api/v1/alliance/members/{member['id']}", json={**body, "wave": "2026 Q4", "row_version": 1})
    assert put.status_code == 200 and put.json()["wave"] == "2026 Q4" and put.json()["row_version"] == 2
    stale = admin.put(f"/api/v1/alliance/members/{member['id']}", json={**body, "row_version": 1})
    assert stale.status_code == 409
    left = admin.put(f"/api/v1/alliance/members/{member['id']}", json={**body, "wave": "2026 Q4",
                                                                       "left_on": "2026-01-01"})
    assert left.status_code == 422 and left.json()["errors"][0]["path"] == "left_on"
    # letters of intent: checked by content, size-limited, downloadable by the admin only
    url = f"/api/v1/alliance/members/{member['id']}/letters"
    form = {"signed_on": "2026-08-01", "signatory_name": "Dr Ada Lovelace", "signatory_position": "Chief Executive"}
    fake = admin.post(url, data=form, files={"file": ("letter.pdf", b"MZ\x90\x00not a pdf", "application/pdf")})
    assert fake.status_code == 415 and fake.json()["errors"][0]["path"] == "file"
    text = admin.post(url, data=form, files={"file": ("letter.txt", b"plain words", "text/plain")})
    assert text.status_code == 415
    ok = admin.post(url, data=form, files={"file": ("Signed letter.pdf", PDF, "application/pdf")})
    assert ok.status_code == 201, ok.text
    letter = ok.json()
    assert letter["content_type"] == "application/pdf" and letter["size"] == len(PDF)
    doc = admin.get(f"{url}/{letter['id']}/document")
    assert doc.status_code == 200 and doc.content == PDF and "attachment" in doc.headers["content-disposition"]
    manager = TestClient(app, headers=_token(db, w, "manager_A", "write"))
    assert manager.get(f"{url}/{letter['id']}/document").status_code == 403
    assert manager.get(url).status_code == 403
    assert [x["signatory_name"] for x in admin.get(url).json()] == ["Dr Ada Lovelace"]
    missing = admin.post(url, data={**form, "signatory_name": ""})
    assert missing.status_code == 422


def test_obligations_api_and_statistics_api(app, db, world, clock):
    w = world
    add_member(db, w, "gamma", joined="2026-01-15")
    register_entry(db, w, clock, "A", "2026-02-01T10:00")
    admin = TestClient(app, headers=_token(db, w, "admin", "admin"))
    got = admin.get("/api/v1/alliance/obligations?obligation=discoverable")
    assert got.status_code == 200, got.text
    body = got.json()
    assert [i["status"] for i in body["items"]] == ["due"] and body["items"][0]["due_on"] == "2027-01-15"
    assert admin.get("/api/v1/alliance/obligations?status=late").status_code == 422
    assert TestClient(app, headers=_token(db, w, "manager_A", "read")).get(
        "/api/v1/alliance/obligations").status_code == 403
    assert TestClient(app).get("/api/v1/alliance/obligations").status_code == 401
    stats = TestClient(app).get("/api/v1/statistics")
    assert stats.status_code == 200
    data = stats.json()
    assert data["register_entries"][0]["sector"] == "Academic Institute" and len(data["quarters"]) == 8
    assert {q["custodian"] for q in data["quality"]} == {"Alpha Health Data", "Beta Biobank"}


def test_statistics_page_charts_tables_and_csv(app, db, world, clock):
    w = world
    register_entry(db, w, clock, "A", "2026-02-01T10:00", title="@SUM(A1)", sector="Commercial")
    client = TestClient(app)
    page = client.get("/statistics")
    assert page.status_code == 200
    html = page.text
    assert html.count("<svg") >= 3 and 'role="img"' in html and "<desc" in html and "<script" not in html
    assert "Commercial" in html and "Alpha Health Data" in html
    for figure in ("requests", "requests-by-custodian", "waiting-times", "register", "quality"):
        got = client.get(f"/statistics/{figure}.csv")
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv"), figure
        assert "attachment" in got.headers["content-disposition"]
        assert f'/statistics/{figure}.csv' in html
    rows = list(csv.reader(io.StringIO(client.get("/statistics/register.csv").text)))
    assert rows[1][0] == "Commercial"
    assert client.get("/statistics/secrets.csv").status_code == 404


def test_admin_dashboard_forms_and_letters(app, db, world, clock):
    w = world
    move_to(clock, "2026-03-01T10:00")
    add_member(db, w, "alpha", joined="2025-01-10")
    admin = signed_in(app, db, w, "admin")
    page = admin.get("/admin/alliance")
    assert page.status_code == 200, page.text[:300]
    assert "Alpha Health Data" in page.text and "Overdue" in page.text and 'for="f-status"' in page.text
    filtered = admin.get("/admin/alliance?status=met")
    assert filtered.status_code == 200 and filtered.text.count('class="status-met"') == 1
    assert admin.get("/admin/alliance?status=nonsense").status_code == 422
    got = admin.get("/admin/alliance/obligations.csv?obligation=access-requests")
    assert got.status_code == 200 and got.text.startswith("organisation,ror_id,member_type")
    assert len(list(csv.DictReader(io.StringIO(got.text)))) == 1
    # add a member through the form: bad input names the fields; good input redirects to the member's page
    form = admin.get("/admin/alliance/members/new")
    assert form.status_code == 200 and '<label for="organisation">' in form.text
    token = _csrf(form.text)
    bad = admin.post("/admin/alliance/members", data={"csrf_token": token, "organisation": "nowhere",
                                                      "member_type": "data-custodian", "join_date": "2026-13-01"},
                     follow_redirects=False)
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text and "not a date" in bad.text
    ok = admin.post("/admin/alliance/members", data={"csrf_token": token, "organisation": ROR_GAMMA,
                                                     "member_type": "data-custodian", "join_date": "2026-02-20",
                                                     "public": "yes"}, follow_redirects=False)
    assert ok.status_code == 303, ok.text[:500]
    member_url = ok.headers["location"].split("?")[0]
    edit = admin.get(member_url)
    assert edit.status_code == 200 and "2026 Q1" in edit.text and "No letter of intent" in edit.text
    no_csrf = admin.post(member_url, data={"organisation": ROR_GAMMA, "member_type": "funder",
                                           "join_date": "2026-02-20"}, follow_redirects=False)
    assert no_csrf.status_code == 403
    saved = admin.post(member_url, data={"csrf_token": token, "organisation": ROR_GAMMA, "member_type": "funder",
                                         "join_date": "2026-02-20", "wave": "2026 Q2", "row_version": "1"},
                       follow_redirects=False)
    assert saved.status_code == 303
    assert "2026 Q2" in admin.get(member_url).text
    # a letter of intent with its signed PDF; a wrong file is refused naming the field
    wrong = admin.post(member_url + "/letters", data={"csrf_token": token, "signed_on": "2026-02-01",
                                                      "signatory_name": "Jo Bloggs", "signatory_position": "CEO"},
                       files={"file": ("letter.pdf", b"\x00\x01binary", "application/pdf")}, follow_redirects=False)
    assert wrong.status_code == 415 and "Not recorded" in wrong.text
    added = admin.post(member_url + "/letters", data={"csrf_token": token, "signed_on": "2026-02-01",
                                                      "signatory_name": "Jo Bloggs", "signatory_position": "CEO"},
                       files={"file": ("letter.pdf", PDF, "application/pdf")}, follow_redirects=False)
    assert added.status_code == 303
    shown = admin.get(member_url).text
    assert "Jo Bloggs, CEO" in shown
    link = re.search(r'href="(/admin/alliance/members/[^"]+/letters/[^"]+)"', shown).group(1)
    assert admin.get(link).content == PDF
    assert signed_in(app, db, w, "manager_A").get(link).status_code == 403
    # nobody else sees the dashboard or the forms
    for who in ("manager_A", "applicant"):
        assert signed_in(app, db, w, who).get("/admin/alliance").status_code == 403
        assert signed_in(app, db, w, who).get("/admin/alliance/members/new").status_code == 403
    assert TestClient(app).get("/admin/alliance", follow_redirects=False).status_code in (302, 303, 401)


def test_statistics_page_with_waiting_times_and_requests(app, db, world, clock):
    from tests.access.clocks.conftest import act, submitted

    w = world
    for i, (sub, dec) in enumerate([("2026-03-02T09:00", "2026-03-03T12:00"), ("2026-03-09T09:00", "2026-03-11T12:00"),
                                    ("2026-03-16T09:00", "2026-03-19T12:00"), ("2026-03-23T09:00", "2026-03-27T12:00"),
                                    ("2026-03-30T09:00", "2026-04-15T09:00")]):
        app_id = submitted(db, w, clock, sub, datasets=("A1",), title=f"Study {i}")
        act(db, w, clock, dec, "manager_A", app_id, "approve")
    move_to(clock, "2026-05-01T09:00")
    html = TestClient(app).get("/statistics").text
    assert 'id="ch-waiting-t"' in html and "<title>Alpha Health Data: 3.0 days</title>" in html
    assert "<title>2026 Q1: 5 received</title>" in html and "<title>2026 Q1: 4 approved</title>" in html
    assert "<title>2026 Q2: 1 approved</title>" in html
    assert "Study 0" not in html  # aggregates only
