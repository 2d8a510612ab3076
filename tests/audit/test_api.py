"""The audit log over HTTP: the API (audit:view), the admin pages, CSV export; and public pages name the team
that acted, never a person or a token."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from healthgate.app import create_app
from healthgate.audit.models import AuditEvent
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import service as identity
from healthgate.identity import sessions, users
from healthgate.identity.permissions import SYSTEM, Role
from tests.conftest import TEST_SECRET_KEY, load_fixture, make_token


@pytest.fixture
def client(db, clock, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, secret_key=TEST_SECRET_KEY), clock=clock)
    with db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        team = identity.get_or_create_team(ctx, "SAIL", member_group=None)
        admin = make_token(s, clock, "Alliance Admin", admin=True)
        reader = make_token(s, clock, "Admin Reader", admin=True, scope="read")
        manager = make_token(s, clock, "Ada Lovelace", roles={team.id: [Role.METADATA_MANAGER, Role.TEAM_ADMIN]},
                             scope="write")
        researcher = make_token(s, clock, "Rita Researcher")
        admin_user = users.create_user(ctx, "web-admin@example.org", "Web Admin", is_admin=True, verified=True)
        member_user = users.create_user(ctx, "member@example.org", "Team Member", verified=True)
        cookies = {"admin": sessions.start(ctx, admin_user, "password"),
                   "member": sessions.start(ctx, member_user, "password")}
    with TestClient(app) as c:
        c.tokens = {k: {"Authorization": f"Bearer {v}"} for k, v in
                    {"admin": admin, "reader": reader, "manager": manager, "researcher": researcher}.items()}
        c.cookies_of = cookies
        c.team_id = team.id
        yield c
    app.state.engine.dispose()


def _publish(client) -> str:
    r = client.post("/api/v1/datasets?team=SAIL", json=load_fixture("hdruk-4.0.0-full.json"),
                    headers=client.tokens["manager"])
    assert r.status_code == 201, r.text
    dsid = r.json()["id"]
    assert client.post(f"/api/v1/datasets/{dsid}/publish", headers=client.tokens["manager"]).status_code == 200
    return dsid


def test_only_audit_viewers_may_read_the_log(client):
    for path in ("/api/v1/audit", "/admin/audit/export.csv", "/api/v1/audit/verify", "/api/v1/audit/actions",
                 "/api/v1/audit/1", "/admin/audit", "/admin/audit/verify"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=client.tokens["researcher"]).status_code == 403, path
        assert client.get(path, headers=client.tokens["manager"]).status_code == 403, path
        assert client.get(path, headers=client.tokens["reader"]).status_code == 200, path
        assert client.get(path, headers=client.tokens["admin"]).status_code == 200, path


def test_browse_filter_and_page(client, clock):
    dsid = _publish(client)
    h = client.tokens["admin"]
    everything = client.get("/api/v1/audit", headers=h).json()
    assert everything["total"] == len(everything["items"]) >= 10
    newest = everything["items"][0]
    assert newest["action"] == "dataset.published" and newest["subject_id"] == dsid
    assert newest["actor"] == "Ada Lovelace" and newest["actor_id"] and newest["token_id"]
    assert newest["action_description"] and newest["seq"] == everything["items"][1]["seq"] + 1
    mine = client.get("/api/v1/audit", params={"subject_type": "dataset", "subject_id": dsid}, headers=h).json()
    assert [e["action"] for e in mine["items"]] == ["dataset.published", "dataset.created"]
    assert client.get("/api/v1/audit", params={"action": "dataset."}, headers=h).json()["total"] == 2
    assert client.get("/api/v1/audit", params={"action": "dataset.*"}, headers=h).json()["total"] == 2
    by_ada = client.get("/api/v1/audit", params={"actor": "lovelace"}, headers=h).json()
    assert by_ada["total"] >= 2 and {e["actor"] for e in by_ada["items"]} == {"Ada Lovelace"}
    by_id = client.get("/api/v1/audit", params={"actor": newest["actor_id"]}, headers=h).json()
    assert by_id["total"] == by_ada["total"]
    now = clock.now().isoformat()
    assert client.get("/api/v1/audit", params={"until": now}, headers=h).json()["total"] == 0
    assert client.get("/api/v1/audit", params={"since": now}, headers=h).json()["total"] == everything["total"]
    assert client.get("/api/v1/audit", params={"since": now, "until": now}, headers=h).json()["total"] == 0
    assert client.get("/api/v1/audit", params={"until": "0.5"}, headers=h).status_code == 422
    # paging: newest first, a next link carrying the filters, no entry twice
    seen, url, params = [], "/api/v1/audit", {"per_page": 3, "action": "user.created"}
    while url:
        r = client.get(url, params=params, headers=h)
        body = r.json()
        seen += [e["seq"] for e in body["items"]]
        url, params = body["next"], None
        if url:
            assert "action=user.created" in url and 'rel="next"' in r.headers["link"]
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 6
    one = client.get(f"/api/v1/audit/{newest['id']}", headers=h).json()
    assert one == newest
    assert client.get("/api/v1/audit/999999", headers=h).status_code == 404


def test_csv_export_and_verify_over_http(client, db):
    dsid = _publish(client)
    h = client.tokens["admin"]
    r = client.get("/admin/audit/export.csv", params={"subject_id": dsid}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["action"] for row in rows] == ["dataset.created", "dataset.published"]
    assert rows[1]["actor"] == "Ada Lovelace" and rows[1]["prev_hash"] and len(rows[1]["hash"]) == 64
    assert client.get("/api/v1/audit/verify", headers=h).json()["ok"] is True
    with db.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.subject_id == dsid, AuditEvent.action == "dataset.published")
                  .values(actor="Someone Else"))
    report = client.get("/api/v1/audit/verify", headers=h).json()
    assert report["ok"] is False and report["problems"][0]["seq"] == int(rows[1]["seq"])
    assert "was edited" in report["problems"][0]["message"]


def test_a_spreadsheet_formula_in_a_name_is_defused_in_csv(client, db, clock):
    with db.sessions.begin() as s:
        users.create_user(Context(s, SYSTEM, clock), "f@example.org", "=HYPERLINK(\"http://x\")", verified=True)
        s.execute(update(AuditEvent).where(AuditEvent.action == "user.created").values(actor="=1+1"))
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/audit/export.csv", headers=client.tokens["admin"]).text)))
    assert rows and all(not row["actor"].startswith("=") for row in rows)


def test_admin_pages(client):
    dsid = _publish(client)
    assert client.get("/admin/audit").status_code == 401
    client.cookies.set(sessions.COOKIE, client.cookies_of["member"])
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit/export.csv").status_code == 403
    client.cookies.set(sessions.COOKIE, client.cookies_of["admin"])
    page = client.get("/admin/audit")
    assert page.status_code == 200 and "dataset.published" in page.text and "Ada Lovelace" in page.text
    assert "<script" not in page.text
    filtered = client.get("/admin/audit", params={"action": "dataset.", "actor": "", "since": "", "until": "",
                                                  "subject_type": "", "subject_id": ""})
    assert filtered.status_code == 200 and "2 matching events" in filtered.text and ">user.created</abbr>" not in filtered.text
    assert client.get("/admin/audit", params={"since": "yesterday"}).status_code == 422
    older = client.get("/admin/audit", params={"action": "user.created"})
    assert ">user.created</abbr>" in older.text
    csv_text = client.get("/admin/audit/export.csv", params={"subject_id": dsid}).text
    assert csv_text.splitlines()[0].startswith("seq,id,at") and len(csv_text.splitlines()) == 3
    assert "The log is intact" in client.get("/admin/audit/verify").text
    event_id = client.get("/api/v1/audit", headers=client.tokens["admin"]).json()["items"][0]["id"]
    detail = client.get(f"/admin/audit/{event_id}")
    assert detail.status_code == 200 and "dataset.published" in detail.text


def test_paging_in_the_admin_pages(client, db, clock):
    with db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        for i in range(60):
            identity.get_or_create_team(ctx, f"Team {i}", member_group=None)
    client.cookies.set(sessions.COOKIE, client.cookies_of["admin"])
    first = client.get("/admin/audit", params={"action": "team.created"})
    assert "61 matching events" in first.text and 'rel="next"' in first.text
    href = first.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(href)
    assert second.status_code == 200 and "Team 0" in second.text and "Team 59" not in second.text


def test_public_pages_name_the_team_never_a_person_or_token(client):
    dsid = _publish(client)
    versions = client.get(f"/api/v1/datasets/{dsid}/versions").json()
    assert versions[0]["published_by"] == "SAIL"
    assert client.get(f"/api/v1/datasets/{dsid}/versions/1").json()["published_by"] == "SAIL"
    for path in (f"/datasets/{dsid}", f"/api/v1/datasets/{dsid}", f"/api/v1/datasets/{dsid}/versions",
                 f"/api/v1/datasets/{dsid}/versions/1", f"/datasets/{dsid}.jsonld", "/search?q=*", "/sitemap.xml"):
        r = client.get(path)
        assert "Ada Lovelace" not in r.text and "Alliance Admin" not in r.text, path
    team_view = client.get(f"/datasets/{dsid}", headers=client.tokens["manager"])
    assert team_view.status_code == 200 and "SAIL <span class=\"meta\">(Ada Lovelace)</span>" in team_view.text
    assert uuid.UUID(dsid)
