"""The domains' periodic jobs, run from the worker's loop (``healthgate worker``, or the server's inline
worker): access reminders, scheduled harvests, alliance obligation reminders ...

A domain declares ``PERIODIC: list[Job]`` in a module named in ``PROVIDERS``. Each job runs at most every
``every`` seconds (the first time at once), in the worker's thread; an error is logged and never stops the
worker or the other jobs. Jobs claim their work from the database (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
so several workers never do the same work twice.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from healthgate.clock import Clock

log = logging.getLogger(__name__)

PROVIDERS: tuple[str, ...] = ("healthgate.access.reminders", "healthgate.federation.jobs",
                             "healthgate.alliance.reminders")


@dataclass(frozen=True)
class Job:
    name: str
    every: float  # seconds between runs
    run: Callable[[sessionmaker[Session], Clock], Any]  # returns something truthy when it did work (logged)


def jobs() -> list[Job]:
    found: list[Job] = []
    for module in PROVIDERS:
        found.extend(importlib.import_module(module).PERIODIC)
    return found


class Periodic:
    """Ticks every declared job when it is due."""

    def __init__(self, declared: list[Job] | None = None):
        self.jobs = declared if declared is not None else jobs()
        self._last: dict[str, float] = {}

    def tick(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        for job in self.jobs:
            now = time.monotonic()
            last = self._last.get(job.name)
            if last is not None and now - last < job.every:
                continue
            self._last[job.name] = now
            try:
                result = job.run(sessions, clock)
            except Exception as exc:  # noqa: BLE001 -- one job's failure must never stop the worker
                log.warning("%s: %s: %s", job.name, type(exc).__name__, exc)
                continue
            if result:
                log.info("%s: %s", job.name, result)
