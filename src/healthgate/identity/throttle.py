"""Sign-in throttling and lockout, by email address: after ``MAX_FAILURES`` failed sign-ins in a row the address
is locked for ``LOCK_FOR``. The count is kept per normalised address whether or not an account has it, in one
table every web process shares, so a locked address answers the same way for an account that exists and one
that does not (no one learns who has an account by trying)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, and_, case, delete, select, update
from sqlalchemy.exc import IntegrityError
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
    """Count one failed sign-in; returns (failures in a row, the lock's end if the address is now locked).

    The count is one ``UPDATE ... SET failures = failures + 1`` (an expired lock starts a new count), so
    concurrent failures on either database are all counted; the first failure inserts the row, and a
    concurrent first failure that loses the insert counts on the winner's row."""
    key, now, t = key_of(email_key), ctx.now(), LoginThrottle
    expired = and_(t.locked_until.is_not(None), t.locked_until <= now)
    bump = (update(t).where(t.key == key)
            .values(failures=case((expired, 1), else_=t.failures + 1),
                    locked_until=case((expired, None), else_=t.locked_until), last_failed_at=now)
            .execution_options(synchronize_session=False))
    if (getattr(ctx.session.execute(bump), "rowcount", 0) or 0) == 0:
        try:
            with ctx.session.begin_nested():
                ctx.session.add(t(key=key, failures=1, last_failed_at=now))
        except IntegrityError:
            ctx.session.execute(bump)
    row = ctx.session.scalar(select(t).where(t.key == key).execution_options(populate_existing=True))
    assert row is not None
    if row.failures >= MAX_FAILURES and (row.locked_until is None or row.locked_until <= now):
        row.locked_until = now + LOCK_FOR
        ctx.session.flush()
    until = row.locked_until if row.locked_until is not None and row.locked_until > now else None
    return row.failures, until


def clear(ctx: Context, email_key: str) -> None:
    """Forget the address's failures (a successful sign-in, a password reset, an admin's unlock)."""
    ctx.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key_of(email_key)))
