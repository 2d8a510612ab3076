"""Teams and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthgate.audit import service as audit
from healthgate.clock import Clock
from healthgate.errors import FieldError, Invalid
from healthgate.identity.models import ApiToken, Team
from healthgate.identity.permissions import ANONYMOUS, Actor, Permission, require

TOKEN_PREFIX = "hg_"


def name_key(name: str) -> str:
    """What makes two team names the same team: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:120] or "team"


def get_or_create_team(
    session: Session, actor: Actor, name: str, *, member_group: str | None, clock: Clock
) -> Team:
    """The team called ``name`` (matched by slug), created if it does not exist yet."""
    name = (name or "").strip()
    if not name or "\x00" in name or len(name) > 300:
        raise Invalid("a team needs a name", [FieldError("team", "team name is empty, too long or has a NUL")])
    slug = slugify(name)
    team = session.scalar(select(Team).where(Team.name_key == name_key(name)))
    if team is not None:
        return team
    require(actor, Permission.TEAM_MANAGE)
    team = Team(id=uuid.uuid4(), slug=slug, name=name, name_key=name_key(name), member_group=member_group,
                created_at=clock.now())
    session.add(team)
    session.flush()
    audit.record(session, actor, "team.created", "team", team.id, {"name": name, "member_group": member_group},
                 at=clock.now(), new=True)
    return team


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, actor: Actor, name: str, *, is_admin: bool, clock: Clock) -> str:
    """A new bearer token; the plain value is returned once and never stored."""
    require(actor, Permission.TEAM_MANAGE)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=_hash(token), is_admin=is_admin, created_at=clock.now())
    session.add(row)
    session.flush()
    audit.record(session, actor, "token.created", "api_token", row.id, {"name": name, "is_admin": is_admin},
                 at=clock.now(), new=True)
    return token


def actor_for_token(session: Session, token: str | None) -> Actor:
    if not token:
        return ANONYMOUS
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return ANONYMOUS
    return Actor(name=f"token:{row.name}", is_admin=row.is_admin)
