"""Sign-in throttling and lockout, by email address: after ``MAX_FAILURES`` failed sign-ins in a row the address
is locked for ``LOCK_FOR``. The count is kept per normalised address whether or not an account has it, in one
table every web process shares, so a locked address answers the same way for an account that exists and one
that does not (no one learns who has an account by trying)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from healthgate.context import Context
from healthgate.db import Base

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)


class LoginThrottle(Base):
    """Failed sign-ins for one address. Keyed by the SHA-256 of the normalised address, so the table holds no
    address that nobody registered."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


def key_of(email_key: str) -> str:
    return hashlib.sha256(b"login:" + email_key.encode()).hexdigest()


def locked_until(ctx: Context, email_key: str) -> datetime | None:
    """When the address's lock ends, if it is locked now."""
    row = ctx.session.get(LoginThrottle, key_of(email_key))
    if row is not None and row.locked_until is not None and row.locked_until > ctx.now():
        return row.locked_until
    return None


def failed(ctx: Context, email_key: str) -> tuple[int, datetime | None]:
    """Count one failed sign-in; returns (failures in a row, the lock's end if this one locked the address)."""
    key = key_of(email_key)
    row = ctx.session.scalar(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update())
    now = ctx.now()
    if row is None:
        row = LoginThrottle(key=key, failures=0, last_failed_at=now)
        ctx.session.add(row)
    elif row.locked_until is not None and row.locked_until <= now:
        row.failures, row.locked_until = 0, None  # an expired lock starts a new count
    row.failures += 1
    row.last_failed_at = now
    if row.failures >= MAX_FAILURES:
        row.locked_until = now + LOCK_FOR
        ctx.session.flush()
        return row.failures, row.locked_until
    ctx.session.flush()
    return row.failures, None


def clear(ctx: Context, email_key: str) -> None:
    """Forget the address's failures (a successful sign-in, a password reset, an admin's unlock)."""
    ctx.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key_of(email_key)))
