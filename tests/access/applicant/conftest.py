"""The researcher's pages over HTTP: the access harness's world served by one app, and a browser per person
(signed in by a session cookie, with the CSRF token its forms carry)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import sessions
from healthgate.identity.models import User
from healthgate.identity.permissions import SYSTEM
from healthgate.web.csrf import token_for
from tests.access.harness import World, build


class Browser:
    """A TestClient signed in as one person (or anonymous), whose ``post`` adds the CSRF field."""

    def __init__(self, client: TestClient, csrf: str):
        self.client = client
        self.csrf = csrf

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kw)


@dataclass
class Site:
    app: Any
    world: World
    db: Any
    stack: ExitStack = field(default_factory=ExitStack)

    def browser(self, who: str | None) -> Browser:
        client = self.stack.enter_context(TestClient(self.app, base_url="http://testserver", follow_redirects=False))
        cookie = ""
        if who is not None:
            with self.db.sessions.begin() as s:
                cookie = sessions.start(Context(s, SYSTEM, self.world.clock), s.get(User, self.world.people[who]),
                                        "password")
            client.cookies.set(sessions.COOKIE, cookie)
        return Browser(client, token_for(self.app.state.settings.effective_secret_key(), cookie))

    def ctx(self, who: str) -> Iterator[Context]:
        with self.db.sessions.begin() as s:
            yield self.world.ctx(s, who)


@pytest.fixture
def site(db, clock, tmp_path) -> Iterator[Site]:
    world = build(db.sessions, clock)
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, base_url="http://testserver",
                              rate_limit_failed_auth="off"), clock=clock)
    s = Site(app=app, world=world, db=db)
    with s.stack:
        yield s


def app_id_of(location: str) -> str:
    m = re.search(r"/applications/([0-9a-f-]{36})", location)
    assert m, location
    return m.group(1)


def version_of(html: str) -> int:
    m = re.search(r'name="version" value="(\d+)"', html)
    assert m, "the page has no version field"
    return int(m.group(1))
