"""The access-request world (tests.access.harness) behind a real app, with a signed-in browser per person."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from healthgate.access import service as access
from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import sessions, users
from healthgate.identity.models import Team
from healthgate.identity.permissions import SYSTEM
from tests.access.harness import World, build


class Site:
    def __init__(self, db, clock, tmp_path):
        self.db, self.clock = db, clock
        self.w: World = build(db.sessions, clock)
        self.app = create_app(Settings(data_dir=tmp_path, database_url=db.url), clock=clock)
        with db.sessions() as s:
            self.slug = {k: s.get(Team, t).slug for k, t in self.w.teams.items()}

    def browser(self, who: str) -> TestClient:
        with self.db.sessions.begin() as s:
            ctx = Context(s, SYSTEM, self.clock)
            cookie = sessions.start(ctx, users.get_user(ctx, self.w.people[who]), "password")
        return TestClient(self.app, cookies={sessions.COOKIE: cookie})

    def submitted(self, *datasets: str, title: str = "Heart and genes") -> uuid.UUID:
        """An application for these datasets (keys of the world's datasets), submitted by the applicant."""
        with self.db.sessions.begin() as s:
            ctx = self.w.ctx(s, "applicant")
            app = access.create(ctx, [self.w.datasets[d] for d in datasets], title=title)
            access.run(ctx, app.id, "submit")
            return app.id

    def run(self, who: str, app_id: uuid.UUID, command: str, payload: dict | None = None, team: str | None = None):
        with self.db.sessions.begin() as s:
            return access.run(self.w.ctx(s, who), app_id, command, payload or {},
                              team_id=self.w.teams[team] if team else None).state

    def state(self, app_id: uuid.UUID):
        with self.db.sessions() as s:
            return access.load_state(self.w.ctx(s, "system"), app_id)

    def part_url(self, team: str, app_id: uuid.UUID, action: str = "") -> str:
        return f"/workspace/teams/{self.slug[team]}/applications/{app_id}" + (f"/{action}" if action else "")


def csrf(client: TestClient, url: str = "/workspace/tokens") -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def version(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def post(client: TestClient, url: str, data: dict, token: str | None = None):
    return client.post(url, data={**data, "csrf_token": token or csrf(client)}, follow_redirects=False)
