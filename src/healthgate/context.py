"""The one context every service operation takes: the database session, who is acting, and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from healthgate.clock import Clock, SystemClock
from healthgate.identity.permissions import SYSTEM, Actor


@dataclass(frozen=True, slots=True)
class Context:
    """``session``: the caller's transaction (the service never commits); ``actor``: who acts (permissions are
    checked against it); ``clock``: the time source (tests move it)."""

    session: Session
    actor: Actor
    clock: Clock

    def now(self) -> datetime:
        return self.clock.now()

    def as_actor(self, actor: Actor) -> Context:
        return Context(self.session, actor, self.clock)


def system(session: Session, clock: Clock | None = None) -> Context:
    """A context for the system itself (migrations, demo loading, the worker): above every team."""
    return Context(session, SYSTEM, clock or SystemClock())
