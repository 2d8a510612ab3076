"""Browser sign-in sessions, kept in the database so that every web process agrees and sign-out (or a password
change) ends them everywhere. The cookie holds a random value; only its SHA-256 is stored."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.identity.models import LoginSession, User
from healthgate.identity.permissions import Actor
from healthgate.identity.tokens import token_hash

COOKIE = "healthgate_session"
LIFETIME = timedelta(days=14)  # absolute
IDLE = timedelta(hours=12)  # since the last request


def start(ctx: Context, user: User, method: str) -> str:
    """A new session for ``user`` (signed in by ``method``); returns the cookie value."""
    value = secrets.token_urlsafe(32)
    now = ctx.now()
    row = LoginSession(token_hash=token_hash(value), user_id=user.id, method=method, created_at=now,
                       last_seen_at=now, expires_at=now + LIFETIME)
    ctx.session.add(row)
    ctx.session.flush()
    # The person signing in is the actor of their own sign-in.
    audit.record(ctx.as_actor(Actor(name=user.name, user_id=user.id)), "session.started", "user",
                 user.id, {"method": method}, at=now)
    return value


def lookup(ctx: Context, value: str | None) -> LoginSession | None:
    """The live session for a cookie value; touches its last-seen time (at most once a minute)."""
    if not value:
        return None
    row = ctx.session.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(value),
                                                        LoginSession.revoked_at.is_(None)))
    now = ctx.now()
    if row is None or row.expires_at <= now or row.last_seen_at + IDLE <= now:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return row


def end(ctx: Context, value: str | None) -> None:
    row = lookup(ctx, value)
    if row is not None:
        row.revoked_at = ctx.now()
        audit.record(ctx, "session.ended", "user", row.user_id, {}, at=ctx.now())


def end_all(ctx: Context, user: User) -> None:
    """Sign ``user`` out everywhere (password change or reset, account disabled)."""
    ctx.session.execute(update(LoginSession).where(LoginSession.user_id == user.id,
                                                   LoginSession.revoked_at.is_(None)).values(revoked_at=ctx.now()))
