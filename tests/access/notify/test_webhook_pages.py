"""The team's webhook pages and API: add (secret shown once), list without secrets, bad input named by field."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from healthgate.access import service as access
from healthgate.access import webhooks
from healthgate.identity import tokens
from healthgate.identity.models import Team, User
from tests.access.harness import build
from tests.conftest import signed_in


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def test_a_manager_adds_a_webhook_in_the_workspace_and_sees_its_deliveries(app, db, world):
    w = world
    client = signed_in(app, db, w, "manager_A")
    with db.sessions() as s:
        slug = s.get(Team, w.teams["A"]).slug
    base = f"/workspace/teams/{slug}/access/webhooks"
    page = client.get(base)
    assert page.status_code == 200 and "No webhooks yet" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    bad = client.post(base, data={"url": "http://insecure.example.org/", "events": ["submitted"], "csrf_token": csrf})
    assert bad.status_code == 422 and "https" in bad.text
    added = client.post(base, data={"url": "https://dar.example.org/hooks", "events": ["submitted", "rejected"],
                                    "csrf_token": csrf})
    assert added.status_code == 201 and added.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-secret" class="token">([^<]+)<', added.text).group(1)
    assert secret.startswith("whsec_")
    listed = client.get(base)
    assert "https://dar.example.org/hooks" in listed.text and secret not in listed.text
    with db.sessions() as s:
        [hook] = webhooks.for_team(w.ctx(s, "manager_A"), w.teams["A"])
        assert hook.events == ["submitted", "rejected"]
    assert client.get(f"{base}/{hook.id}").status_code == 200
    with db.sessions.begin() as s:  # a submission queues a delivery, shown with its status
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    shown = client.get(f"{base}/{hook.id}")
    assert shown.status_code == 200 and "submitted" in shown.text and "pending" in shown.text
    assert signed_in(app, db, w, "reviewer_A").get(base).status_code == 403
    assert client.get(f"/workspace/teams/{slug}/access/webhooks/{uuid.uuid4()}").status_code == 404


def test_the_api_shows_the_secret_once_and_names_bad_fields(app, db, world):
    w = world
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "system")
        value = tokens.create_token(ctx, s.get(User, w.people["manager_A"]), "dar", scope="write",
                                    teams=[w.teams["A"]])
    auth = {"Authorization": f"Bearer {value}"}
    with TestClient(app) as client:
        url = f"/api/v1/teams/{w.teams['A']}/webhooks"
        made = client.post(url, json={"url": "https://dar.example.org/h"}, headers=auth)
        assert made.status_code == 201, made.text
        assert made.json()["secret"].startswith("whsec_") and made.json()["events"] == list(webhooks.DEFAULT_EVENTS)
        listed = client.get(url, headers=auth).json()
        assert [h["url"] for h in listed] == ["https://dar.example.org/h"] and "secret" not in listed[0]
        bad = client.post(url, json={"url": "https://x.example.org", "events": ["nope"]}, headers=auth)
        assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.events.0"
        hook_id = made.json()["id"]
        off = client.patch(f"{url}/{hook_id}", json={"active": False}, headers=auth)
        assert off.status_code == 200 and off.json()["active"] is False
        assert client.get(f"{url}/{hook_id}/deliveries", headers=auth).json() == []
        assert client.delete(f"{url}/{hook_id}", headers=auth).status_code == 204
        assert client.get(url, headers=auth).json() == []


def test_the_api_event_names_are_the_services():
    from typing import get_args

    from healthgate.access.webhooks_api import Event

    assert get_args(Event) == webhooks.EVENTS
