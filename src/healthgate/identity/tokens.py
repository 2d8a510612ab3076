"""Personal API tokens: shown once, stored as SHA-256, named, scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import FieldError, Forbidden, Invalid, NotFound
from healthgate.identity.models import ApiToken, User
from healthgate.identity.permissions import Permission

TOKEN_PREFIX = "hg_"
SCOPES = ("read", "write", "admin")
DEFAULT_LIFETIME = timedelta(days=90)  # what the API and CLI give a token unless told otherwise
MAX_LIFETIME = timedelta(days=366)
LAST_USED_PRECISION = timedelta(minutes=1)


def roles_of(session: Session, user_id: uuid.UUID) -> dict[uuid.UUID, set[str]]:
    from healthgate.identity.models import Membership

    held: dict[uuid.UUID, set[str]] = {}
    for team_id, role in session.execute(select(Membership.team_id, Membership.role)
                                         .where(Membership.user_id == user_id)):
        held.setdefault(team_id, set()).add(role)
    return held


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(ctx: Context, owner: User, name: str, *, scope: str = "read",
                 teams: list[uuid.UUID] | None = None, expires_at: datetime | None = None) -> str:
    """A new token for ``owner``; the plain value is returned once and never stored. People create their own
    tokens; an alliance admin may create one for anyone (``user:manage``). A token never exceeds its owner:
    "admin" needs an admin owner, "write" names only teams where the owner holds a role (or none: a personal
    write token changes only what is the owner's own, such as their access requests)."""
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
    if expires_at is not None and expires_at > ctx.now() + MAX_LIFETIME:
        raise Invalid("too long", [FieldError("expires_at", f"at most {MAX_LIFETIME.days} days from now")])
    team_list = sorted(set(teams or []))
    if scope == "write":  # without teams: a personal write token (its owner's own access requests only)
        held = roles_of(ctx.session, owner.id)
        outside = [t for t in team_list if not owner.is_admin and not held.get(t)]
        if outside:
            raise Invalid("too powerful", [FieldError("teams", f"the owner holds no role in team {outside[0]}")])
    elif team_list:
        raise Invalid("teams are for write tokens", [FieldError("teams", "only a write token names teams")])
    via = actor.scope if actor.token_id is not None else None
    if via is not None and via.kind != "admin" and (
            via.kind == "read" and scope != "read" or scope == "admin"
            or scope == "write" and not {uuid.UUID(str(t)) for t in team_list} <= set(via.teams)):
        raise Forbidden("a token cannot make a token more powerful than itself")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=owner.id, name=name, token_hash=token_hash(token), hint=token[:10], scope=scope,
                   team_ids=[str(t) for t in team_list], created_at=ctx.now(), expires_at=expires_at)
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, "token.created", "api_token", row.id,
                 {"owner": str(owner.id), "scope": scope, "teams": row.team_ids}, at=ctx.now(), new=True)
    return token


def find_token(ctx: Context, token: str) -> ApiToken | None:
    """The live token with this value (not revoked, not expired), or None."""
    row = ctx.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                    ApiToken.revoked_at.is_(None)))
    now = ctx.now()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        row.last_used_at = now  # at most once a minute: a busy token does not write on every request
    return row


def row_for(ctx: Context, token: str) -> ApiToken:
    """The stored row of a token value, whatever its state (not a sign-in: nothing is touched)."""
    row = ctx.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None:
        raise NotFound("no such token")
    return row


def list_tokens(ctx: Context, owner: User) -> list[ApiToken]:
    """A person's tokens, newest first (their own, or anyone's for an alliance admin)."""
    if ctx.actor.user_id != owner.id and not ctx.actor.can(Permission.USER_MANAGE):
        raise Forbidden("you may only list your own tokens")
    return list(ctx.session.scalars(select(ApiToken).where(ApiToken.user_id == owner.id)
                                    .order_by(ApiToken.created_at.desc())))


def revoke_token(ctx: Context, token_id: uuid.UUID) -> ApiToken:
    """Revoke a token (one's own; anyone's for an alliance admin). Revoking twice changes nothing."""
    row = ctx.session.get(ApiToken, token_id)
    if row is None or (row.user_id != ctx.actor.user_id and not ctx.actor.can(Permission.USER_MANAGE)):
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = ctx.now()
        audit.record(ctx, "token.revoked", "api_token", row.id, {}, at=ctx.now())
    return row
