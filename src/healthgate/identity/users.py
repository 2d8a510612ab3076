"""People: accounts, profiles, admin status."""

from __future__ import annotations

import unicodedata
import uuid

from sqlalchemy import select

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity.models import User
from healthgate.identity.permissions import Permission, require


def email_key(email: str) -> str:
    """What makes two addresses one account: NFKC, case-folded, surrounding space removed."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def checked_email(email: str) -> str:
    email = (email or "").strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise Invalid("not an email address", [FieldError("email", "give an email address like name@example.org")])
    return email


def find_by_email(ctx: Context, email: str) -> User | None:
    return ctx.session.scalar(select(User).where(User.email_key == email_key(email)))


def get_user(ctx: Context, user_id: uuid.UUID) -> User:
    user = ctx.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def create_user(ctx: Context, email: str, name: str, *, is_admin: bool = False,
                password_hash: str | None = None, verified: bool = False) -> User:
    """A new account. Creating one for someone else (or an admin) needs ``user:manage``."""
    require(ctx.actor, Permission.USER_MANAGE)
    email = checked_email(email)
    name = " ".join((name or "").split())
    if not name or len(name) > 300:
        raise Invalid("a person needs a name", [FieldError("name", "a name is 1 to 300 characters")])
    if find_by_email(ctx, email) is not None:
        raise Conflict("an account with this email address exists", [FieldError("email", "already registered")])
    now = ctx.now()
    user = User(email=email, email_key=email_key(email), name=name, is_admin=is_admin,
                password_hash=password_hash, email_verified_at=now if verified else None, public_fields=[],
                failed_logins=0, created_at=now)
    ctx.session.add(user)
    ctx.session.flush()
    audit.record(ctx, "user.created", "user", user.id, {"is_admin": is_admin}, at=now, new=True)
    return user
