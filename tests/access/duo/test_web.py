"""The DUO API and workspace page over HTTP, on both databases, and the partials other pages include."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from healthgate.access import duo, duo_pages  # noqa: F401  (duo_pages registers the partials' helper)
from healthgate.access import duo_terms as terms
from healthgate.access.data_use import Conditions
from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.errors import Invalid
from healthgate.identity import sessions
from healthgate.identity.models import User
from healthgate.identity.permissions import Role
from healthgate.web.templates import env
from tests.access.harness import build
from tests.conftest import make_token


@pytest.fixture
def site(db, clock, tmp_path):
    w = build(db.sessions, clock)
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), clock=clock)
    with db.sessions.begin() as s:
        w.tokens = {"manager": make_token(s, clock, roles={w.teams["A"]: [Role.ACCESS_MANAGER]}),
                    "reviewer": make_token(s, clock, roles={w.teams["A"]: [Role.REVIEWER]}),
                    "stranger": make_token(s, clock)}
    w.app = app
    yield w
    app.state.engine.dispose()


def _auth(w, who):
    return {"Authorization": f"Bearer {w.tokens[who]}"}


def _browser(db, w, who) -> TestClient:
    with db.sessions.begin() as s:
        ctx = w.ctx(s, who)
        cookie = sessions.start(ctx, s.get(User, w.people[who]), "password")
    return TestClient(w.app, cookies={sessions.COOKIE: cookie})


def test_terms_api(site):
    got = TestClient(site.app).get("/api/v1/duo/terms")
    assert got.status_code == 200
    body = got.json()
    assert "CC BY 4.0" in body["source"]
    assert body["permissions"] == [terms.NRES, terms.GRU, terms.HMB, terms.DS, terms.POA]
    gru = next(t for t in body["items"] if t["shorthand"] == "GRU")
    assert gru == {"id": "DUO:0000042", "shorthand": "GRU", "label": "general research use", "kind": "permission",
                   "description": terms.get(terms.GRU).description}


def test_disease_search_api(site):
    client = TestClient(site.app)
    got = client.get("/api/v1/duo/diseases?q=type 2 diabetes&limit=3").json()
    assert "ICD-10" in got["ontology"]
    assert got["items"][0] == {"id": "ICD10:E11", "label": "Type 2 diabetes mellitus"}
    assert client.get("/api/v1/duo/diseases?q=I21.9").json()["items"][0]["id"] == "ICD10:I21.9"
    assert client.get("/api/v1/duo/diseases?q=x").status_code == 422


def test_set_read_and_check_through_the_api(site):
    w = site
    client = TestClient(w.app)
    url = f"/api/v1/datasets/{w.datasets['A1']}/data-use"
    assert client.get(url).json()["set"] is False
    put = client.put(url, json={"permission": "DS", "diseases": ["E10-E14"], "modifiers": ["IRB", "NCU"]},
                     headers=_auth(w, "manager"))
    assert put.status_code == 200, put.text
    assert put.json()["permission"]["shorthand"] == "DS"
    assert [m["shorthand"] for m in put.json()["modifiers"]] == ["NCU", "IRB"]
    read = client.get(url)
    assert read.json()["diseases"] == [{"id": "ICD10:E10-E14", "label": "Diabetes mellitus"}]
    assert read.headers["ETag"] == put.headers["ETag"]
    stale = client.put(url, json={"permission": "GRU"}, headers={**_auth(w, "manager"), "If-Match": '"du-old"'})
    assert stale.status_code == 412
    fresh = client.put(url, json={"permission": "DS", "diseases": ["E10-E14"], "modifiers": ["NCU", "IRB", "PUB"]},
                       headers={**_auth(w, "manager"), "If-Match": read.headers["ETag"]})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != read.headers["ETag"]
    check = client.post("/api/v1/duo/check", json={
        "purpose": {"terms": ["DS"], "diseases": ["E11.9"], "commercial": False},
        "dataset_ids": [str(w.datasets["A1"]), str(w.datasets["B1"])]})
    assert check.status_code == 200, check.text
    advice = check.json()["advice"]
    assert [a["verdict"] for a in advice] == ["APPROVE", "ABSTAIN"]
    assert advice[0]["conditions"][0].startswith("Non-commercial use only (NCU)")
    assert all("Algorithms.md" in r["source"] for r in advice[0]["reasons"])


def test_api_refusals_are_problems_naming_the_field(site):
    w = site
    client = TestClient(w.app)
    url = f"/api/v1/datasets/{w.datasets['A1']}/data-use"
    bad = client.put(url, json={"permission": "DS", "modifiers": ["IRB", "WHATEVER"]}, headers=_auth(w, "manager"))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    errors = {e["path"]: e["message"] for e in bad.json()["errors"]}
    assert "'WHATEVER' is not a DUO term" in errors["modifiers/1"]
    assert "at least one disease" in errors["diseases"]
    assert client.put(url, json={"permission": "GRU"}).status_code == 401
    assert client.put(url, json={"permission": "GRU"}, headers=_auth(w, "reviewer")).status_code == 403
    assert client.put(url, json={"permission": "GRU"}, headers=_auth(w, "stranger")).status_code == 403
    assert client.put(url, json={"permission": "GRU", "extra": 1}, headers=_auth(w, "manager")).status_code == 422
    check = client.post("/api/v1/duo/check", json={"purpose": {"terms": ["HMB"], "diseases": ["E11"]},
                                                   "dataset_ids": [str(w.datasets["A1"])]})
    assert check.status_code == 422
    assert [e["path"] for e in check.json()["errors"]] == ["purpose/terms"]
    missing = client.get("/api/v1/datasets/00000000-0000-0000-0000-000000000000/data-use")
    assert missing.status_code == 404


def test_workspace_page(db, site):
    w = site
    url = f"/workspace/datasets/{w.datasets['A1']}/data-use"
    manager = _browser(db, w, "manager_A")
    page = manager.get(url)
    assert page.status_code == 200 and "Set the conditions" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    bad = manager.post(url, data={"csrf_token": csrf, "permission": terms.DS, "diseases": "E11, nonsense"},
                       follow_redirects=False)
    assert bad.status_code == 422 and "is not an ICD-10 code" in bad.text
    assert 'value="E11, nonsense"' in bad.text  # what was typed is kept
    good = manager.post(url, data={"csrf_token": csrf, "permission": terms.DS, "diseases": "E11",
                                   "modifiers": [terms.IRB, terms.PUB]}, follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"].endswith("?done=saved")
    shown = manager.get(good.headers["location"]).text
    assert "Type 2 diabetes mellitus" in shown and "ethics approval required" in shown
    reviewer = _browser(db, w, "reviewer_A").get(url)
    assert reviewer.status_code == 200 and "Set the conditions" not in reviewer.text  # reads, may not set
    assert _browser(db, w, "manager_B").get(url).status_code == 404
    assert TestClient(w.app).get(url, follow_redirects=False).status_code in (303, 401)


def test_partials_render(site):
    cond = Conditions(dataset_id=site.datasets["A1"], permission=terms.HMB, modifiers=(terms.IRB,)).as_dict()
    html = env.get_template("access/duo/_conditions.html").render(conditions=cond)
    assert "health or medical or biomedical research" in html and "ethics approval required" in html
    unset = env.get_template("access/duo/_conditions.html").render(conditions=Conditions(site.datasets["A1"]).as_dict())
    assert "has not set" in unset

    stated = duo.clean_purpose({"terms": ["DS"], "diseases": ["E11"], "methods": True})
    fields = env.get_template("access/duo/_purpose_fields.html").render(purpose=stated)
    assert 'value="E11"' in fields and "Type 2 diabetes mellitus" in fields
    assert re.search(r'name="purpose_terms" value="DS" checked', fields)
    assert re.search(r'name="purpose_methods" value="yes" checked', fields)
    with pytest.raises(Invalid) as raised:
        duo.clean_purpose({"terms": ["DS"]})
    with_errors = env.get_template("access/duo/_purpose_fields.html").render(purpose={"terms": ["DS"]},
                                                                             errors=raised.value.errors)
    assert "names at least one disease" in with_errors
    # what the fields post reads back as the same purpose
    names = re.findall(r'<input type="(?:checkbox|radio)" name="(purpose_\w+)" value="([^"]+)"[^>]* checked', fields)
    posted: dict[str, list[str]] = {}
    for name, value in names:
        posted.setdefault(name, []).append(value)
    posted["purpose_diseases"] = ["E11"]
    assert duo.clean_purpose(duo.purpose_from_form(posted)) == stated

    advice = [duo.match(stated, Conditions(site.datasets["A1"], terms.HMB, (), (terms.IRB,))).as_dict()]
    html = env.get_template("access/duo/_advice.html").render(advice=advice,
                                                             dataset_titles={str(site.datasets["A1"]): "Alpha"})
    assert "Alpha" in html and "APPROVE" in html and "Ethics approval (IRB)" in html and "Algorithms.md" in html


def test_public_dataset_page_and_its_partial(db, site):
    w = site
    client = TestClient(w.app)
    put = client.put(f"/api/v1/datasets/{w.datasets['A1']}/data-use", json={"permission": "GRU", "modifiers": ["PUB"]},
                     headers=_auth(w, "manager"))
    assert put.status_code == 200
    # the public page looks the conditions up for the partial (duo_conditions), archived or not
    assert client.get(f"/datasets/{w.datasets['A1']}").status_code == 200
    shown = env.from_string('{% include "access/duo/_conditions.html" %}').render(
        duo_conditions=put.json() | {"permission": put.json()["permission"]})
    assert "general research use" in shown and "publication required" in shown
