"""The identity API end to end over HTTP (on both databases): organisations, teams, members and invitations,
personal tokens; errors as problem+json naming the field."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import sessions, users
from healthgate.identity.models import Membership, User
from healthgate.identity.permissions import SYSTEM
from healthgate.outbox.models import OutboxMessage
from tests.conftest import make_token


@pytest.fixture
def client(db, clock, tmp_path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, base_url="http://testserver",
                              rate_limit_failed_auth="off"), clock=clock)
    with app.state.sessions.begin() as s:
        admin = make_token(s, clock, "Alliance Admin", admin=True, email="root@example.org")
    with TestClient(app) as c:
        c.admin = {"Authorization": f"Bearer {admin}"}  # type: ignore[attr-defined]
        yield c
    app.state.engine.dispose()


def _csrf(app, cookie: str) -> str:
    """The CSRF field a form of this browser session carries (as the template global computes it)."""
    from starlette.requests import Request

    from healthgate.web.csrf import csrf_token

    return csrf_token(Request({"type": "http", "app": app, "method": "GET", "path": "/", "query_string": b"",
                               "headers": [(b"cookie", f"{sessions.COOKIE}={cookie}".encode())]}))


def _problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return answer.json()


def test_organisations_over_http(client):
    bad = _problem(client.post("/api/v1/organisations", headers=client.admin,
                               json={"name": "Oxford", "ror_id": "052gg0111"}), 422)
    assert bad["errors"] == [{"path": "ror_id", "message": "the check digits are wrong: 11 does not match the "
                                                          "rest of the id (ISO 7064 MOD 97-10)"}]
    malformed = _problem(client.post("/api/v1/organisations", headers=client.admin,
                                     json={"name": "Oxford", "ror_id": "https://ror.org/052go0110"}), 422)
    assert malformed["errors"] == [{"path": "ror_id", "message": "characters 2 to 7 are Crockford base32 (digits "
                                                                "and letters except i, l, o, u); 'o' is not"}]
    assert _problem(client.post("/api/v1/organisations", headers=client.admin,
                                json={"name": "X", "country": "XX"}), 422)["errors"][0]["path"] == "country"
    assert _problem(client.post("/api/v1/organisations", json={"name": "X"}), 401)
    made = client.post("/api/v1/organisations", headers=client.admin, json={
        "name": "University of Oxford", "ror_id": "052gg0110", "sector": "Academic Institute", "country": "GB"})
    assert made.status_code == 201, made.text
    ox = made.json()
    assert (ox["ror_url"], ox["country_name"]) == ("https://ror.org/052gg0110", "United Kingdom")
    assert made.headers["Location"].endswith(f"/api/v1/organisations/{ox['id']}")
    assert _problem(client.post("/api/v1/organisations", headers=client.admin,
                                json={"name": "Oxford again", "ror_id": "052gg0110"}), 409)
    dup = client.post("/api/v1/organisations", headers=client.admin, json={"name": "Oxford Uni"}).json()
    team = client.post("/api/v1/teams", headers=client.admin,
                       json={"name": "Oxford BRC", "organisation_id": dup["id"]})
    assert team.status_code == 201 and team.json()["organisation"]["name"] == "Oxford Uni"
    merged = client.post(f"/api/v1/organisations/{dup['id']}/merge", headers=client.admin, json={"into": ox["id"]})
    assert merged.status_code == 200, merged.text
    assert [t["name"] for t in merged.json()["teams"]] == ["Oxford BRC"]
    assert client.get(f"/api/v1/organisations/{dup['id']}").json()["merged_into"] == ox["id"]
    listed = client.get("/api/v1/organisations?per_page=1").json()
    assert (listed["total"], [o["name"] for o in listed["items"]]) == (1, ["University of Oxford"])
    assert client.get("/api/v1/organisations?include_merged=true").json()["total"] == 2
    assert client.get(f"/api/v1/teams?organisation={ox['id']}").json()[0]["slug"] == "oxford-brc"
    assert _problem(client.get(f"/api/v1/organisations/{uuid.uuid4()}"), 404)
    assert _problem(client.get("/api/v1/organisations?per_page=1000"), 422)


def test_members_and_invitations_over_http(client, clock):
    team = client.post("/api/v1/teams", headers=client.admin, json={"name": "SAIL"}).json()
    app = client.app
    with app.state.sessions.begin() as s:
        users.create_user(Context(s, SYSTEM, clock), "ada@example.org", "Ada Lovelace", verified=True)
    added = client.post(f"/api/v1/teams/{team['slug']}/members", headers=client.admin,
                        json={"email": "ADA@example.org", "role": "team.admin"})
    assert added.status_code == 201 and added.json()["outcome"] == "added", added.text
    invited = client.post(f"/api/v1/teams/{team['id']}/members", headers=client.admin,
                          json={"email": "grace@example.org", "role": "team.metadata_editor"})
    assert invited.json()["outcome"] == "invited", invited.text
    listing = client.get(f"/api/v1/teams/{team['id']}/members", headers=client.admin).json()
    assert [(m["email"], m["roles"]) for m in listing["members"]] == [("ada@example.org", ["team.admin"])]
    assert [(i["email"], i["role"]) for i in listing["invitations"]] == [("grace@example.org",
                                                                          "team.metadata_editor")]
    assert _problem(client.post(f"/api/v1/teams/{team['id']}/members", headers=client.admin,
                                json={"email": "grace@example.org", "role": "team.owner"}), 422)
    with app.state.sessions() as s:
        body = s.scalar(select(OutboxMessage.payload))["body"]
    link = next(w for w in body.split() if w.startswith("http://testserver/invitations/"))
    path = link.removeprefix("http://testserver")
    # signed out: the page says what the invitation is and sends them to sign in or sign up
    page = client.get(path)
    assert page.status_code == 200 and "Join SAIL" in page.text and "/login?next=" in page.text
    assert client.post(path, follow_redirects=False).headers["location"].startswith("http://testserver/login")
    # they sign up, sign in, and accept
    with app.state.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        grace = users.create_user(ctx, "grace@example.org", "Grace Hopper")
        cookie = sessions.start(ctx, grace, "password")
        grace_id = grace.id
    client.cookies.set(sessions.COOKIE, cookie)
    page = client.get(path)
    assert "You are signed in as Grace Hopper" in page.text and 'name="csrf_token"' in page.text
    accepted = client.post(path, data={"csrf_token": _csrf(app, cookie)}, follow_redirects=False)
    assert accepted.status_code == 303 and accepted.headers["location"].endswith("/workspace")
    assert client.get(path).status_code == 404  # single use
    client.cookies.clear()
    with app.state.sessions() as s:
        assert s.get(Membership, (uuid.UUID(team["id"]), grace_id, "team.metadata_editor")) is not None
        assert s.get(User, grace_id).email_verified_at is not None
    ada = client.get(f"/api/v1/teams/{team['id']}/members", headers=client.admin).json()["members"][0]
    assert client.delete(f"/api/v1/teams/{team['id']}/members/{grace_id}/roles/team.metadata_editor",
                         headers=client.admin).status_code == 204
    last_admin = client.delete(f"/api/v1/teams/{team['id']}/members/{ada['user_id']}/roles/team.admin",
                               headers=client.admin)
    assert _problem(last_admin, 409)["errors"][0]["path"] == "role"


def test_my_tokens_over_http(client, clock):
    team = client.post("/api/v1/teams", headers=client.admin, json={"name": "SAIL"}).json()
    with client.app.state.sessions.begin() as s:
        mine = make_token(s, clock, "Ada", roles={uuid.UUID(team["id"]): ["team.metadata_editor"]})
    me = {"Authorization": f"Bearer {mine}"}
    made = client.post("/api/v1/me/tokens", headers=me,
                       json={"name": "nightly", "scope": "read", "expires_in_days": 30})
    assert made.status_code == 201, made.text
    new = made.json()
    assert new["token"].startswith(new["hint"]) and new["last_used_at"] is None
    assert new["expires_at"].startswith("2026-02-14")  # the fixed clock's day + 30
    listed = client.get("/api/v1/me/tokens", headers=me).json()
    assert {t["name"] for t in listed} == {"nightly", "Ada"}
    assert all("token" not in t for t in listed)
    read = {"Authorization": f"Bearer {new['token']}"}
    assert client.get("/api/v1/me/tokens", headers=read).status_code == 200
    escalate = client.post("/api/v1/me/tokens", headers=read,
                           json={"name": "more", "scope": "write", "teams": [team["id"]]})
    assert _problem(escalate, 403)
    assert _problem(client.post("/api/v1/me/tokens", headers=me, json={"name": "adm", "scope": "admin"}),
                    422)["errors"][0]["path"] == "scope"
    # someone else's token id is not found, and stays live
    admin_tokens = client.get("/api/v1/me/tokens", headers=client.admin).json()
    assert _problem(client.delete(f"/api/v1/me/tokens/{admin_tokens[0]['id']}", headers=me), 404)
    assert client.delete(f"/api/v1/me/tokens/{new['id']}", headers=me).status_code == 204
    assert _problem(client.get("/api/v1/me/tokens", headers=read), 401)
    assert client.get("/api/v1/me/tokens", headers=client.admin).status_code == 200
