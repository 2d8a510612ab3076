"""The workspace pages of harvest sources: a metadata manager adds a source, runs it, reads the job's per-item
report; another team's admin sees nothing of it; an alliance admin sees every source."""

from __future__ import annotations

import re

import pytest

from healthgate.federation import jobs
from healthgate.identity.models import Team
from tests.conftest import signed_in
from tests.federation.fakes import Answer, FmaSource, document
from tests.federation.harvest_world import build


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_a_manager_adds_runs_and_reads_the_report(app, db, clock, world):
    client = signed_in(app, db, world, "manager_A")
    with db.sessions() as s:
        slug = s.get(Team, world.teams["A"]).slug
    base = f"/workspace/teams/{slug}/harvest"
    team_page = client.get(f"/workspace/teams/{slug}")
    assert f'href="{base}"' in team_page.text
    page = client.get(base)
    assert page.status_code == 200 and "No harvest sources yet" in page.text
    with FmaSource() as src:
        src.add("good", document("Good dataset"))
        src.add("bad", document("Bad dataset"))
        src.script("/datasets/bad", Answer(200, b"{oops"))
        bad = client.post(base, data={"csrf_token": csrf(page), "name": "alpha", "kind": "hdruk-fma",
                                      "url": "not a url", "auth": "bearer", "settings": "[1]"})
        assert bad.status_code == 422
        assert "settings: a JSON object" in bad.text and 'value="alpha"' in bad.text
        added = client.post(base, data={"csrf_token": csrf(page), "name": "alpha", "kind": "hdruk-fma",
                                        "url": src.url, "auth": "none", "settings": '{"retries": 0}',
                                        "schedule_minutes": "", "enabled": "1"}, follow_redirects=False)
        assert added.status_code == 303
        source_url = added.headers["location"].split("?")[0]
        source_page = client.get(added.headers["location"])
        assert "The source was added" in source_page.text and "No harvests yet" in source_page.text
        run = client.post(f"{source_url}/run", data={"csrf_token": csrf(source_page)}, follow_redirects=False)
        assert run.status_code == 303
        assert "queued" in client.get(source_url).text
        job = jobs.run_next(db.sessions, clock)
        assert job is not None and job.counts["created"] == 1
        report = client.get(f"{base}/jobs/{job.id}")
        assert report.status_code == 200
        assert "not JSON" in report.text and "good" in report.text and "succeeded" in report.text
        failed = client.get(f"{base}/jobs/{job.id}", params={"outcome": "failed"})
        assert "not JSON" in failed.text and "version 1" not in failed.text

        saved = client.post(source_url, data={"csrf_token": csrf(source_page), "name": "alpha renamed",
                                              "url": src.url, "auth": "none", "settings": '{"retries": 1}',
                                              "schedule_minutes": "60", "enabled": "1",
                                              "row_version": "1"}, follow_redirects=False)
        assert saved.status_code == 303
        assert "Harvested every 60 minutes" in client.get(source_url).text

    stranger = signed_in(app, db, world, "manager_B")
    assert stranger.get(source_url).status_code == 404
    assert stranger.get(base).status_code in (403, 404)
    admin = signed_in(app, db, world, "admin")
    overview = admin.get("/workspace/harvest")
    assert "alpha renamed" in overview.text and "Alpha Health Data" in overview.text

    removed = client.post(f"{source_url}/delete", data={"csrf_token": csrf(source_page)}, follow_redirects=False)
    assert removed.status_code == 303
    assert "The source was removed" in client.get(removed.headers["location"]).text
