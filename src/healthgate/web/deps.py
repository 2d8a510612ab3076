"""Request-scoped dependencies shared by every domain's API and pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from healthgate.clock import Clock
from healthgate.db import transaction
from healthgate.identity import service as identity
from healthgate.identity.permissions import Actor


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on any error."""
    with transaction(request.app.state.sessions) as session:
        yield session


def get_clock(request: Request) -> Clock:
    return request.app.state.clock


def get_actor(request: Request, session: Annotated[Session, Depends(get_session, scope="function")]) -> Actor:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return identity.actor_for_token(session, token)


# scope="function": commit before the response is sent, so a failed commit is an error, never a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
ActorDep = Annotated[Actor, Depends(get_actor)]
