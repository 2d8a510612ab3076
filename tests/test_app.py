"""The application as a whole: trusted hosts and redirects, rate limits, tokens, the docs page, the contract."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.config import Settings
from tests.conftest import load_fixture, make_token


@contextmanager
def _client(db, clock, tmp_path, **settings) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, **settings), clock=clock)
    with db.sessions.begin() as s:
        token = make_token(s, clock, "admin", admin=True)
    try:
        with TestClient(app) as client:
            client.admin = {"Authorization": f"Bearer {token}"}  # type: ignore[attr-defined]
            yield client
    finally:
        app.state.engine.dispose()


@pytest.fixture
def client(db, clock, tmp_path):
    with _client(db, clock, tmp_path) as c:
        yield c


def _problem(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    return resp.json()


def test_unknown_hosts_are_refused_and_redirects_use_the_base_url(db, clock, tmp_path):
    with _client(db, clock, tmp_path, base_url="https://gateway.example.org") as c:
        assert c.get("/api/v1/datasets", headers={"Host": "evil.example"}).status_code == 400
        r = c.get("/api/v1/datasets/?page=2", headers={"Host": "gateway.example.org"}, follow_redirects=False)
        assert r.status_code == 307
        assert r.headers["location"] == "https://gateway.example.org/api/v1/datasets?page=2"
        r = c.get("/api/v1/datasets/", follow_redirects=False)  # Host: testserver, still the base URL
        assert r.headers["location"].startswith("https://gateway.example.org/")
        assert c.get("/api/v1/nothing/", follow_redirects=False).status_code == 404
    with _client(db, clock, tmp_path) as c:  # no base URL configured: the (trusted) address asked for
        r = c.get("/api/v1/datasets/", headers={"Host": "localhost:8123"}, follow_redirects=False)
        assert r.headers["location"] == "http://localhost:8123/api/v1/datasets"
        assert c.get("/api/v1/datasets/", headers={"Host": "evil.example"}).status_code == 400


def test_trusted_hosts_setting(db, clock, tmp_path):
    with _client(db, clock, tmp_path, trusted_hosts="data.example.org") as c:
        assert c.get("/api/v1/datasets").status_code == 400  # testserver is no longer trusted
        assert c.get("/api/v1/datasets", headers={"Host": "data.example.org"}).status_code == 200


def test_anonymous_limit_is_hit(db, clock, tmp_path):
    with _client(db, clock, tmp_path, rate_limit_anonymous="3/minute") as c:
        answers = [c.get("/api/v1/datasets") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert answers[1].headers["RateLimit-Remaining"] == "1"
        refused = _problem(answers[3], 429)
        assert int(answers[3].headers["Retry-After"]) >= 1 and "too many" in refused["detail"]
        assert c.get("/api/v1/datasets", headers=c.admin).status_code == 200  # a token is not anonymous


def test_invented_tokens_buy_nothing(db, clock, tmp_path):
    with _client(db, clock, tmp_path, rate_limit_failed_auth="3/minute", rate_limit_expensive="2/minute") as c:
        codes = [c.get("/api/v1/search/datasets", headers={"Authorization": f"Bearer hg_made_up_{i}"}).status_code
                 for i in range(4)]
        assert codes == [401, 401, 429, 429]  # the 3rd: expensive, counted by address for unknown tokens
        codes = [c.get("/api/v1/datasets", headers={"Authorization": f"Bearer hg_other_{i}"}).status_code
                 for i in range(3)]
        assert codes == [401, 429, 429]  # three failures in all: refused before the token is looked at


def test_a_real_token_is_not_refused_for_its_networks_anonymous_traffic(db, clock, tmp_path):
    with _client(db, clock, tmp_path, rate_limit_anonymous="2/minute") as c:
        assert [c.get("/api/v1/datasets").status_code for _ in range(3)] == [200, 200, 429]
        assert c.get("/api/v1/datasets", headers=c.admin).status_code == 200


def test_expensive_limit_counts_tokens_too(db, clock, tmp_path):
    with _client(db, clock, tmp_path, rate_limit_expensive="2/minute") as c:
        assert c.get("/api/v1/datasets", headers=c.admin).status_code == 200  # the token is now known good
        codes = [c.get("/api/v1/search/datasets?q=x", headers=c.admin).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        doc = load_fixture("hdruk-4.0.0-minimal.json")
        assert c.post("/api/v1/validate", json=doc).status_code == 200  # another client key: anonymous
        assert c.post("/api/v1/validate", json=doc).status_code == 200
        assert c.post("/api/v1/validate", json=doc).status_code == 429
        assert c.get("/api/v1/datasets").status_code == 200  # cheap routes are not counted


def test_the_data_use_register_exports_are_expensive(db, clock, tmp_path):
    with _client(db, clock, tmp_path, rate_limit_expensive="2/minute") as c:
        answers = [c.get(f"/data-uses/export.{fmt}") for fmt in ("csv", "json", "xlsx")]
        assert [r.status_code for r in answers] == [200, 200, 429]
        assert answers[1].headers["RateLimit-Remaining"] == "0"
        assert int(answers[2].headers["Retry-After"]) >= 1
        assert c.get("/data-uses/template.csv").status_code == 200  # the upload template is not an export


def test_failed_authentications_are_limited(db, clock, tmp_path):
    with _client(db, clock, tmp_path, rate_limit_failed_auth="5/minute") as c:
        bad = {"Authorization": "Bearer hg_wrong"}
        codes = [c.post("/api/v1/datasets/00000000-0000-0000-0000-000000000000/publish", headers=bad).status_code
                 for _ in range(7)]
        assert codes == [401] * 5 + [429, 429]
        # even the right token waits now: the client has used up its failures
        assert c.post("/api/v1/datasets?team=T", json={}, headers=c.admin).status_code == 429


def test_limits_can_be_switched_off(db, clock, tmp_path):
    with _client(db, clock, tmp_path, rate_limit_anonymous="off") as c:
        assert all(c.get("/api/v1/datasets").status_code == 200 for _ in range(5))
        assert "RateLimit-Limit" not in c.get("/api/v1/datasets").headers


def test_bad_rate_limit_setting_is_named(db, clock, tmp_path):
    with pytest.raises(Exception, match="RATE_LIMIT_ANONYMOUS"), \
            _client(db, clock, tmp_path, rate_limit_anonymous="lots"):
        pass


def test_401_carries_www_authenticate(client):
    r = client.post("/api/v1/datasets?team=T", json={})
    _problem(r, 401)
    assert r.headers["www-authenticate"] == 'Bearer realm="healthgate"'
    r = client.post("/api/v1/datasets?team=T", json={}, headers={"Authorization": "Bearer nope"})
    _problem(r, 401)
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    r = client.get("/api/v1/datasets/00000000-0000-0000-0000-000000000000", headers={"Authorization": "Basic x"})
    assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]


def test_docs_page_loads_its_assets_from_the_server(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text) + re.findall(r"url: ?'([^']+)'", page.text)
    assert urls and not [u for u in urls if "//" in u], urls  # nothing from another host
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert "swagger-ui-bundle.js" in page.text
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["bearerToken"][
            "description"]}
    assert {"bearerToken": []} in spec["paths"]["/api/v1/datasets"]["post"]["security"]


def test_every_route_declares_its_answers(client):
    spec = client.get("/api/v1/openapi.json").json()
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "errors"}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            assert "429" in responses, (method, path)
            for code, response in responses.items():
                content = response.get("content", {})
                if int(code) >= 400:
                    assert list(content) == ["application/problem+json"], (method, path, code)
                elif int(code) < 300 and "application/octet-stream" in content:  # a file: its bytes
                    assert content["application/octet-stream"].get("schema") == {"type": "string",
                                                                                 "format": "binary"}
                elif int(code) < 300:
                    schema = content.get("application/json", {}).get("schema", {}) if code != "204" else {"x": 1}
                    assert schema and schema != {"type": "object"} and "additionalProperties" not in schema, \
                        (method, path, code, schema)
            if op.get("security"):
                assert "401" in responses, (method, path)
            if method in ("put", "post") and path != "/api/v1/validate" and "{dataset_id}" in path:
                assert {"401", "403", "404", "409", "412"} <= set(responses), (method, path)
    assert spec["paths"]["/api/v1/datasets"]["get"]["parameters"][1]["schema"]["maximum"] == 100


def test_only_unique_violations_are_conflicts(db, clock, tmp_path):
    """A unique key taken by a concurrent writer is a 409; any other integrity error is a bug: 500, logged."""
    from healthgate.identity.models import Team

    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), clock=clock)

    def add(**team) -> None:
        with app.state.sessions.begin() as s:
            s.add(Team(created_at=clock.now(), name_key=str(team["name"]), **team))

    @app.post("/api/v1/test/duplicate")
    def duplicate() -> None:
        add(name="one", slug="same")
        add(name="two", slug="same")

    @app.post("/api/v1/test/nameless")
    def nameless() -> None:
        add(name=None, slug="nameless")

    with TestClient(app, raise_server_exceptions=False) as c:
        err = _problem(c.post("/api/v1/test/duplicate"), 409)
        assert "retry" in err["detail"]
        err = _problem(c.post("/api/v1/test/nameless"), 500)
        assert "logged" in err["detail"]
    app.state.engine.dispose()
