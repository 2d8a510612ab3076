"""Personal API tokens: shown once, stored as SHA-256, named, scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from sqlalchemy import select

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import FieldError, Forbidden, Invalid, NotFound
from healthgate.identity.models import ApiToken, User
from healthgate.identity.permissions import Permission

TOKEN_PREFIX = "hg_"
SCOPES = ("read", "write", "admin")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(ctx: Context, owner: User, name: str, *, scope: str = "read",
                 teams: list[uuid.UUID] | None = None, expires_at: datetime | None = None) -> str:
    """A new token for ``owner``; the plain value is returned once and never stored. People create their own
    tokens; an alliance admin may create one for anyone (``user:manage``). A token never exceeds its owner:
    "admin" needs an admin owner, "write" needs teams where the owner holds a role."""
    actor = ctx.actor
    if actor.user_id != owner.id and not actor.can(Permission.USER_MANAGE):
        raise Forbidden("you may only create tokens for yourself")
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise Invalid("a token needs a name", [FieldError("name", "a token name is 1 to 200 characters")])
    if scope not in SCOPES:
        raise Invalid("unknown scope", [FieldError("scope", f"one of {', '.join(SCOPES)}")])
    if scope == "admin" and not owner.is_admin:
        raise Invalid("too powerful", [FieldError("scope", "only an alliance admin's token may have admin scope")])
    if expires_at is not None and expires_at <= ctx.now():
        raise Invalid("already expired", [FieldError("expires_at", "give a time in the future")])
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=owner.id, name=name, token_hash=token_hash(token), hint=token[:10], scope=scope,
                   team_ids=sorted(str(t) for t in teams or []), created_at=ctx.now(), expires_at=expires_at)
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, "token.created", "api_token", row.id,
                 {"owner": str(owner.id), "scope": scope, "teams": row.team_ids}, at=ctx.now(), new=True)
    return token


def find_token(ctx: Context, token: str) -> ApiToken | None:
    """The live token with this value (not revoked, not expired), or None."""
    row = ctx.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                    ApiToken.revoked_at.is_(None)))
    if row is None or (row.expires_at is not None and row.expires_at <= ctx.now()):
        return None
    return row


def list_tokens(ctx: Context, owner: User) -> list[ApiToken]:
    """A person's tokens, newest first (their own, or anyone's for an alliance admin)."""
    if ctx.actor.user_id != owner.id and not ctx.actor.can(Permission.USER_MANAGE):
        raise Forbidden("you may only list your own tokens")
    return list(ctx.session.scalars(select(ApiToken).where(ApiToken.user_id == owner.id)
                                    .order_by(ApiToken.created_at.desc())))


def revoke_token(ctx: Context, token_id: uuid.UUID) -> ApiToken:
    row = ctx.session.get(ApiToken, token_id)
    if row is None or (row.user_id != ctx.actor.user_id and not ctx.actor.can(Permission.USER_MANAGE)):
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = ctx.now()
        audit.record(ctx, "token.revoked", "api_token", row.id, {}, at=ctx.now())
    return row
