"""Request-scoped dependencies shared by every domain's API and pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from healthgate.clock import Clock
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import transaction
from healthgate.errors import InvalidToken, Unauthorized
from healthgate.identity import actors, sessions
from healthgate.identity.models import User
from healthgate.identity.permissions import ANONYMOUS, Actor
from healthgate.web import ratelimit

# The bearer token as an OpenAPI security scheme: the docs page's "Authorize" button sends it.
bearer = HTTPBearer(auto_error=False, scheme_name="bearerToken",
                    description="An API token (`healthgate tokens create`), sent as `Authorization: Bearer hg_...`")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on any error."""
    with transaction(request.app.state.sessions) as session:
        yield session


def get_clock(request: Request) -> Clock:
    return request.app.state.clock


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _session_actor(request: Request, session: Session) -> Actor:
    """The signed-in person of a browser session cookie, else anonymous."""
    value = request.cookies.get(sessions.COOKIE)
    if not value:
        return ANONYMOUS
    row = sessions.lookup(Context(session, ANONYMOUS, request.app.state.clock), value)
    user = session.get(User, row.user_id) if row is not None else None
    return actors.actor_for_user(session, user) if user is not None else ANONYMOUS


def get_actor(
    request: Request, session: Annotated[Session, Depends(get_session, scope="function")],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """Who is calling: anonymous without a token; a token that is sent must be valid (401 otherwise), and
    each client may fail only a few times a minute (429)."""
    header = request.headers.get("authorization")
    if header is None:
        return _session_actor(request, session)
    limits: ratelimit.RateLimits = request.app.state.rate_limits
    key = ratelimit.client_key(request.scope)
    refused = limits.exhausted(ratelimit.FAILED_AUTH, key)
    if refused is not None:
        raise ratelimit.refuse(refused, "failed authentications")
    token = credentials.credentials.strip() if credentials else ""
    actor = actors.actor_for_token(session, token, request.app.state.clock) if token else None
    if actor is None or not actor.authenticated:
        limits.hit(ratelimit.FAILED_AUTH, key)
        raise InvalidToken("the bearer token is unknown, revoked or malformed; send Authorization: Bearer <token>")
    limits.remember(header)
    return actor


def get_writer(actor: Annotated[Actor, Depends(get_actor)]) -> Actor:
    """An authenticated actor, checked before anything is looked up (so strangers learn nothing)."""
    if not actor.authenticated:
        raise Unauthorized("send an API token (Authorization: Bearer <token>) to change anything")
    return actor


# scope="function": commit before the response is sent, so a failed commit is an error, never a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ActorDep = Annotated[Actor, Depends(get_actor)]
WriterDep = Annotated[Actor, Depends(get_writer)]


def get_context(session: SessionDep, actor: ActorDep, clock: ClockDep) -> Context:
    """The one context a service operation takes: this request's transaction, who is calling, the clock."""
    return Context(session, actor, clock)


def get_writer_context(session: SessionDep, actor: WriterDep, clock: ClockDep) -> Context:
    return Context(session, actor, clock)


ContextDep = Annotated[Context, Depends(get_context)]
WriterContextDep = Annotated[Context, Depends(get_writer_context)]
