"""Browser sign-in sessions, kept in the database so that every web process agrees and sign-out (or a password
change) ends them everywhere. The cookie holds a random value; only its SHA-256 is stored."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from starlette.responses import Response

from healthgate.audit import service as audit
from healthgate.config import Settings
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


def lookup(ctx: Context, value: str | None, *, touch: bool = True) -> LoginSession | None:
    """The live session for a cookie value; touches its last-seen time (at most once a minute)."""
    if not value:
        return None
    row = ctx.session.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(value),
                                                        LoginSession.revoked_at.is_(None)))
    now = ctx.now()
    if row is None or row.expires_at <= now or row.last_seen_at + IDLE <= now:
        return None
    if touch and now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return row


def end(ctx: Context, value: str | None) -> None:
    row = lookup(ctx, value)
    if row is not None:
        row.revoked_at = ctx.now()
        audit.record(ctx, "session.ended", "user", row.user_id, {}, at=ctx.now())


def end_all(ctx: Context, user: User) -> None:
    """Sign ``user`` out everywhere (password change or reset, account disabled)."""
    ended = ctx.session.execute(update(LoginSession).where(LoginSession.user_id == user.id,
                                                           LoginSession.revoked_at.is_(None))
                                .values(revoked_at=ctx.now()).execution_options(synchronize_session=False))
    count = getattr(ended, "rowcount", 0) or 0
    if count:
        audit.record(ctx, "session.ended_all", "user", user.id, {"sessions": count}, at=ctx.now())


def user_of(ctx: Context, value: str | None, *, touch: bool = True) -> User | None:
    """The signed-in person of a cookie value (None: no live session, or a disabled account)."""
    row = lookup(ctx, value, touch=touch)
    user = ctx.session.get(User, row.user_id) if row is not None else None
    return user if user is not None and user.disabled_at is None else None


def set_cookie(response: Response, value: str, settings: Settings) -> None:
    """The session cookie: HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site posts), Secure
    when the site is served over https, lasting as long as the session may."""
    response.set_cookie(COOKIE, value, max_age=int(LIFETIME.total_seconds()), path="/", httponly=True,
                        samesite="lax", secure=secure_cookies(settings))


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings))


def secure_cookies(settings: Settings) -> bool:
    return settings.base_url.lower().startswith("https://")
