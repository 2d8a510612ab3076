"""Emailed tokens (email verification, password reset, team invitation): signed, expiring, single-use.

A token is ``<random>.<signature>``: 32 random bytes, and an HMAC of the purpose and the random part under the
site's secret key, so a token made for one purpose never passes for another and a forged or mistyped one is
refused before the database is asked. The database keeps one ``EmailToken`` row per token (only a SHA-256 of
it), with its expiry and the time it was used: a token works once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.identity.models import EmailToken, User

LIFETIMES: dict[str, timedelta] = {
    "verify": timedelta(days=3),
    "reset": timedelta(hours=1),
    "invite": timedelta(days=14),
}


def _signature(key: str, purpose: str, value: str) -> str:
    mac = hmac.new(key.encode(), f"email-token:{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode().rstrip("=")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(ctx: Context, user: User, purpose: str, *, key: str, data: dict[str, Any] | None = None,
          lifetime: timedelta | None = None, supersede: bool = True) -> str:
    """A new token for ``user``; the plain value is returned once (to be emailed) and never stored.
    ``supersede``: the person's earlier unused tokens for this purpose stop working."""
    if purpose not in LIFETIMES:
        raise ValueError(f"unknown email token purpose {purpose!r}")
    now = ctx.now()
    if supersede:
        ctx.session.execute(update(EmailToken).where(
            EmailToken.user_id == user.id, EmailToken.purpose == purpose, EmailToken.used_at.is_(None),
            EmailToken.expires_at > now).values(used_at=now))
    value = secrets.token_urlsafe(32)
    token = f"{value}.{_signature(key, purpose, value)}"
    row = EmailToken(user_id=user.id, purpose=purpose, token_hash=_hash(token), data=dict(data or {}),
                     created_at=now, expires_at=now + (lifetime or LIFETIMES[purpose]))
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, "email_token.issued", "user", user.id, {"purpose": purpose,
                                                             "expires_at": row.expires_at}, at=now)
    return token


def _invalid(message: str) -> Invalid:
    return Invalid(message, [FieldError("token", message)])


def peek(ctx: Context, token: str, purpose: str, *, key: str) -> EmailToken:
    """The live row of ``token`` without using it (to show a form); Invalid if it cannot be used."""
    value, dot, signature = (token or "").strip().partition(".")
    if not dot or not value or not hmac.compare_digest(signature.encode(),
                                                       _signature(key, purpose, value).encode()):
        raise _invalid("this link is not valid: copy the whole link from the email, or ask for a new one")
    row = ctx.session.scalar(select(EmailToken).where(EmailToken.token_hash == _hash(token.strip())))
    if row is None or row.purpose != purpose:
        raise _invalid("this link is not valid: ask for a new one")
    if row.used_at is not None:
        raise _invalid("this link has already been used or was replaced by a newer one: ask for a new one")
    if row.expires_at <= ctx.now():
        raise _invalid("this link has expired: ask for a new one")
    return row


def consume(ctx: Context, token: str, purpose: str, *, key: str) -> EmailToken:
    """Use ``token`` once: its row, now marked used (in the caller's transaction). Two requests racing with one
    token: the conditional update lets exactly one through."""
    row = peek(ctx, token, purpose, key=key)
    now = ctx.now()
    used = ctx.session.execute(update(EmailToken).where(EmailToken.id == row.id, EmailToken.used_at.is_(None))
                               .values(used_at=now).execution_options(synchronize_session=False))
    if getattr(used, "rowcount", 1) != 1:
        raise _invalid("this link has already been used: ask for a new one")
    ctx.session.refresh(row)
    audit.record(ctx, "email_token.used", "user", row.user_id, {"purpose": purpose}, at=now)
    return row
