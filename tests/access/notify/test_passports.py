"""GA4GH Passport visas: minted for each dataset of an approved part only, verified with joserfc against the
JWKS the server serves; rotation keeps old visas verifiable. On both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from healthgate.access import passports
from healthgate.access import service as access
from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.errors import Forbidden
from healthgate.identity import tokens
from healthgate.identity.models import User
from tests.access.harness import build

BASE = "https://gateway.example.org"
LIFETIME = 3600


@pytest.fixture
def client(db, clock, tmp_path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, base_url=BASE,
                              passport_visa_lifetime_seconds=LIFETIME, trusted_hosts="*"), clock=clock)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def auth(db, w, who: str) -> dict[str, str]:
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "system")
        teams = [t for key, t in w.teams.items() if who.endswith(f"_{key}")]
        value = tokens.create_token(ctx, s.get(User, w.people[who]), f"{who} token", scope="write" if teams else "read", teams=teams)
    return {"Authorization": f"Bearer {value}"}


def decided(db, w) -> object:
    """An application for A1, A2 (team A: approved with conditions) and B1 (team B: rejected)."""
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["A2"], w.datasets["B1"]],
                               title="Hearts").id
        access.run(w.ctx(s, "applicant"), app_id, "invite_collaborator", {"user_id": str(w.people["collaborator"])})
        access.run(w.ctx(s, "applicant"), app_id, "submit")
        access.run(w.ctx(s, "manager_A"), app_id, "approve_with_conditions", {"conditions": ["Outputs checked"]})
        access.run(w.ctx(s, "manager_B"), app_id, "reject", {"reason": "Out of scope"})
    return app_id


def verify(client: TestClient, token: str) -> tuple[dict, dict]:
    keys = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    return decoded.header, decoded.claims


def test_visas_for_approved_datasets_verify_against_the_served_jwks(db, world, client, clock):
    w = world
    app_id = decided(db, w)
    answer = client.get(f"/api/v1/applications/{app_id}/visas", headers=auth(db, w, "applicant"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert {v["dataset_id"] for v in body["visas"]} == {str(w.datasets["A1"]), str(w.datasets["A2"])}  # not B1
    assert body["ga4gh_passport_v1"] == [v["visa"] for v in body["visas"]]
    now = int(clock.now().timestamp())
    for item in body["visas"]:
        header, claims = verify(client, item["visa"])
        assert header["typ"] == "JWT" and header["alg"] == "RS256" and header["jku"] == f"{BASE}/.well-known/jwks.json"
        assert claims["iss"] == BASE and claims["sub"] == str(w.people["applicant"])
        assert claims["iat"] == now and claims["exp"] == now + LIFETIME and claims["jti"]
        visa = claims["ga4gh_visa_v1"]
        assert visa["type"] == "ControlledAccessGrants" and visa["by"] == "dac"
        assert visa["value"] == f"{BASE}/datasets/{item['dataset_id']}"
        assert visa["source"] == f"{BASE}/api/v1/teams/{w.teams['A']}"
        assert visa["asserted"] == now  # decided at the (fixed) clock's time
        [[clause]] = visa["conditions"]
        assert clause["type"] == "AcceptedTermsAndPolicies" and clause["value"].startswith("const:https://")
        assert claims == item["claims"]
    jtis = {verify(client, v["visa"])[1]["jti"] for v in body["visas"]}
    assert len(jtis) == 2

    # the person's passport holds the same grants
    mine = client.get("/api/v1/passport", headers=auth(db, w, "applicant")).json()
    assert {v["dataset_id"] for v in mine["visas"]} == {str(w.datasets["A1"]), str(w.datasets["A2"])}
    # nobody else holds a visa for it; who may not see the application gets 404, its other readers 403
    assert client.get("/api/v1/passport", headers=auth(db, w, "collaborator")).json()["visas"] == []
    assert client.get(f"/api/v1/applications/{app_id}/visas", headers=auth(db, w, "stranger")).status_code == 404
    for who in ("collaborator", "manager_A"):
        assert client.get(f"/api/v1/applications/{app_id}/visas", headers=auth(db, w, who)).status_code == 403
    assert client.get("/api/v1/passport").status_code == 401


def test_no_visa_for_rejected_closed_or_withdrawn_parts(db, world, clock):
    w = world
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]]).id
        access.run(w.ctx(s, "applicant"), app_id, "submit")
        access.run(w.ctx(s, "manager_B"), app_id, "reject", {"reason": "No"})
        assert passports.for_application(w.ctx(s, "applicant"), app_id, base_url=BASE) == []  # A still open
        access.run(w.ctx(s, "manager_A"), app_id, "approve")
        [visa] = passports.for_application(w.ctx(s, "applicant"), app_id, base_url=BASE)
        assert visa.dataset_id == w.datasets["A1"] and "conditions" not in visa.claims["ga4gh_visa_v1"]
        access.run(w.ctx(s, "manager_A"), app_id, "close", {"reason": "Project ended"})
        assert passports.for_application(w.ctx(s, "applicant"), app_id, base_url=BASE) == []
        assert passports.passport(w.ctx(s, "applicant"), base_url=BASE) == []
    with db.sessions.begin() as s:  # a withdrawn application's approved parts give no visa either
        other = access.create(w.ctx(s, "applicant"), [w.datasets["A2"], w.datasets["B1"]]).id
        access.run(w.ctx(s, "applicant"), other, "submit")
        access.run(w.ctx(s, "manager_A"), other, "approve")
        assert len(passports.passport(w.ctx(s, "applicant"), base_url=BASE)) == 1
        access.run(w.ctx(s, "applicant"), other, "withdraw")
        assert passports.passport(w.ctx(s, "applicant"), base_url=BASE) == []


def test_rotation_signs_with_a_new_key_and_old_visas_still_verify(db, world, client, clock):
    w = world
    app_id = decided(db, w)
    assert client.get("/.well-known/jwks.json").json() == {"keys": []}  # no key until the first visa
    old = client.get(f"/api/v1/applications/{app_id}/visas", headers=auth(db, w, "applicant")).json()["visas"][0]
    with db.sessions.begin() as s:
        with pytest.raises(Forbidden):
            passports.rotate(w.ctx(s, "manager_A"))
        new_kid = passports.rotate(w.ctx(s, "admin"))
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert len(keys) == 2 and all("d" not in k for k in keys)  # public halves only
    new = client.get(f"/api/v1/applications/{app_id}/visas", headers=auth(db, w, "applicant")).json()["visas"][0]
    assert verify(client, new["visa"])[0]["kid"] == new_kid != verify(client, old["visa"])[0]["kid"]
    clock.advance(seconds=LIFETIME + 1)  # the retired key leaves the set once its visas have expired
    assert [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]] == [new_kid]


def test_the_api_docs_link_the_jwks(client):
    spec = client.get("/api/v1/openapi.json").json()
    assert "/.well-known/jwks.json" in spec["paths"]
    assert "/.well-known/jwks.json" in spec["paths"]["/api/v1/applications/{application_id}/visas"]["get"]["description"]
