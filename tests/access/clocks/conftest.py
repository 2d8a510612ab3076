"""Helpers for the clock tests: move the injected clock to a London wall-clock time, drive applications."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from healthgate.access import service as access
from tests.access.harness import build

LONDON = ZoneInfo("Europe/London")


def move_to(clock, when: str) -> None:
    """Set the FixedClock to ``when`` (ISO, London wall-clock time)."""
    target = datetime.fromisoformat(when).replace(tzinfo=LONDON)
    clock.advance(seconds=(target - clock.now()).total_seconds())


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def submitted(db, w, clock, when: str, datasets=("A1", "B1"), title: str = "Heart and genes"):
    """A new application for ``datasets`` submitted at ``when`` (London time); its id."""
    move_to(clock, when)
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets[d] for d in datasets], title=title).id
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    return app_id


def act(db, w, clock, when: str, who: str, app_id, command: str, payload=None):
    move_to(clock, when)
    with db.sessions.begin() as s:
        return access.run(w.ctx(s, who), app_id, command, payload or {})
