"""Who is acting: the Actor for a signed-in person, an API token, or nobody."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthgate.clock import Clock
from healthgate.context import Context
from healthgate.identity import tokens
from healthgate.identity.models import Membership, User
from healthgate.identity.permissions import ANONYMOUS, Actor, Role, TokenScope


def roles_of(session: Session, user_id: uuid.UUID) -> dict[uuid.UUID, frozenset[Role]]:
    held: dict[uuid.UUID, set[Role]] = {}
    for team_id, role in session.execute(select(Membership.team_id, Membership.role)
                                         .where(Membership.user_id == user_id)):
        held.setdefault(team_id, set()).add(Role(role))
    return {t: frozenset(r) for t, r in held.items()}


def actor_for_user(session: Session, user: User, *, token_id: uuid.UUID | None = None,
                   scope: TokenScope | None = None) -> Actor:
    if user.disabled_at is not None:
        return ANONYMOUS
    return Actor(name=user.name, user_id=user.id, is_admin=user.is_admin,
                 roles=roles_of(session, user.id), token_id=token_id, scope=scope)


def actor_for_token(session: Session, token: str | None, clock: Clock) -> Actor:
    """The token's owner, limited to the token's scope; ANONYMOUS for no, unknown, revoked or expired tokens."""
    if not token:
        return ANONYMOUS
    ctx = Context(session, ANONYMOUS, clock)
    row = tokens.find_token(ctx, token)
    if row is None:
        return ANONYMOUS
    user = session.get(User, row.user_id)
    if user is None:
        return ANONYMOUS
    scope = TokenScope(row.scope, frozenset(uuid.UUID(t) for t in row.team_ids))
    return actor_for_user(session, user, token_id=row.id, scope=scope)
