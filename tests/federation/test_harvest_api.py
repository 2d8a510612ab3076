"""The harvest API: sources managed by the team's metadata managers (alliance admins: any team), secrets
write-only, If-Match on updates, a run queued and its per-item report read back. On both databases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from healthgate.federation import jobs
from healthgate.identity.permissions import Role
from tests.conftest import make_token
from tests.federation.fakes import Answer, FmaSource, document
from tests.federation.harvest_world import build


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def client_for(app, db, clock, **kw) -> TestClient:
    with db.sessions.begin() as s:
        token = make_token(s, clock, **kw)
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def test_a_manager_adds_runs_and_reads_a_source(app, db, clock, world):
    manager = client_for(app, db, clock, name="m", roles={world.teams["A"]: [Role.METADATA_MANAGER]})
    other = client_for(app, db, clock, name="o", roles={world.teams["B"]: [Role.TEAM_ADMIN]})
    admin = client_for(app, db, clock, name="a", admin=True)
    with FmaSource() as src:
        src.token = "Bearer hunter2-secret"
        src.add("one", document("Dataset one"))
        src.add("two", document("Dataset two"))
        src.script("/datasets/two", Answer(500, "broken"))
        body = {"team": "Alpha Health Data", "name": "alpha", "url": src.url, "auth": "bearer",
                "secret": "hunter2-secret", "settings": {"retries": 0, "page_size": 50}}
        created = manager.post("/api/v1/harvest-sources", json=body)
        assert created.status_code == 201, created.text
        out = created.json()
        assert out["has_secret"] is True and "secret" not in out and "hunter2" not in created.text
        assert out["team"] == "Alpha Health Data" and created.headers["location"].endswith(out["id"])
        sid = out["id"]

        assert other.post("/api/v1/harvest-sources", json={**body, "name": "x"}).status_code == 403
        assert other.get(f"/api/v1/harvest-sources/{sid}").status_code == 404
        assert other.get("/api/v1/harvest-sources").json() == []
        assert [s["name"] for s in admin.get("/api/v1/harvest-sources").json()] == ["alpha"]
        assert manager.post("/api/v1/harvest-sources", json=body).status_code == 422  # the name is taken

        bad = manager.post("/api/v1/harvest-sources", json={**body, "name": "bad", "url": "ftp://x",
                                                              "auth": "api-key", "secret": None})
        assert bad.status_code == 422
        assert {e["path"] for e in bad.json()["errors"]} >= {"url", "secret"}

        got = manager.get(f"/api/v1/harvest-sources/{sid}")
        stale = manager.patch(f"/api/v1/harvest-sources/{sid}", json={"schedule_minutes": 60},
                              headers={"If-Match": '"r0"'})
        assert stale.status_code == 412
        patched = manager.patch(f"/api/v1/harvest-sources/{sid}", json={"schedule_minutes": 60},
                                headers={"If-Match": got.headers["etag"]})
        assert patched.status_code == 200 and patched.json()["schedule_minutes"] == 60
        assert patched.json()["has_secret"] is True  # an absent secret is kept

        queued = manager.post(f"/api/v1/harvest-sources/{sid}/jobs")
        assert queued.status_code == 202 and queued.json()["state"] == "queued"
        assert manager.post(f"/api/v1/harvest-sources/{sid}/jobs").json()["id"] == queued.json()["id"]
        job = jobs.run_next(db.sessions, clock)
        assert job is not None and job.state == "succeeded"

        report = manager.get(f"/api/v1/harvest-jobs/{job.id}")
        assert report.status_code == 200
        data = report.json()
        assert data["job"]["counts"]["created"] == 1 and data["job"]["counts"]["failed"] == 1
        rows = {i["remote_id"]: i for i in data["items"]}
        assert rows["one"]["outcome"] == "created" and rows["one"]["dataset_id"]
        assert rows["two"]["outcome"] == "failed" and "HTTP 500" in rows["two"]["message"]
        failed_only = manager.get(f"/api/v1/harvest-jobs/{job.id}", params={"outcome": "failed"}).json()
        assert [i["remote_id"] for i in failed_only["items"]] == ["two"]
        assert other.get(f"/api/v1/harvest-jobs/{job.id}").status_code == 404

        listed = manager.get(f"/api/v1/harvest-sources/{sid}/jobs").json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == str(job.id)

        assert other.delete(f"/api/v1/harvest-sources/{sid}").status_code == 404
        assert manager.delete(f"/api/v1/harvest-sources/{sid}").status_code == 204
        assert manager.get(f"/api/v1/harvest-sources/{sid}").status_code == 404


def test_an_editor_without_harvest_permission_is_refused(app, db, clock, world):
    editor = client_for(app, db, clock, name="e", roles={world.teams["A"]: [Role.METADATA_EDITOR]})
    answer = editor.post("/api/v1/harvest-sources", json={"team": "Alpha Health Data", "name": "n",
                                                          "url": "https://example.org"})
    assert answer.status_code == 403
    assert editor.get("/api/v1/harvest-sources", params={"team": "Alpha Health Data"}).status_code == 403
