"""Teams: names, slugs, lookup and creation. People are in identity.users, tokens in identity.tokens."""

from __future__ import annotations

import itertools
import re
import unicodedata
import uuid
from collections.abc import Iterable

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity.models import Team
from healthgate.identity.permissions import Permission, require

TOKEN_PREFIX = "hg_"


def name_key(name: str) -> str:
    """What makes two team names one team: equal after NFKC, case folding and collapsing whitespace
    ("SAIL" and " sail "; never "A&E Team" and "A E Team")."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


SLUG_LENGTH = 100  # leaves room for a "-N" suffix within the column's 120


def slugify(name: str) -> str:
    """A readable URL segment in any script: letters, digits and marks kept (NFKC, lower case), anything else a
    hyphen. "Ελληνική ομάδα" is "ελληνική-ομάδα", "中文团队" stays "中文团队", "A&E Team" is "a-e-team".
    Not unique by itself: ``get_or_create_team`` adds a suffix when another team has the slug."""
    kept = "".join(c if unicodedata.category(c)[0] in "LNM" else "-"
                   for c in unicodedata.normalize("NFKC", name).lower())
    return re.sub(r"-{2,}", "-", kept).strip("-")[:SLUG_LENGTH].strip("-") or "team"


def _checked_name(name: str) -> str:
    name = " ".join((name or "").split())
    if (not name or len(name) > 300 or len(name_key(name)) > 300
            or any(unicodedata.category(c) in ("Cc", "Cs") for c in name)):
        raise Invalid("a team needs a name", [FieldError(
            "team", "a team name is 1 to 300 characters of text (no control characters)")])
    return name


def _team_id(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref.strip())
    except ValueError:
        return None


def resolve_team(ctx: Context, ref: str | uuid.UUID) -> Team:
    """The team ``ref`` names: its id (UUID), else its slug, else its name (compared by ``name_key``).
    Teams are public (custodians publish under their name), so any actor may resolve one."""
    team_id = ref if isinstance(ref, uuid.UUID) else _team_id(ref)
    team = ctx.session.get(Team, team_id) if team_id is not None else None
    if team is None and isinstance(ref, str):
        team = ctx.session.scalar(select(Team).where(Team.slug == ref.strip())) or ctx.session.scalar(
            select(Team).where(Team.name_key == name_key(ref)))
    if team is None:
        raise NotFound(f"no team {str(ref)[:300]!r}", [FieldError("team", "no team with this id, slug or name")])
    return team


def teams_by_name(session: Session, names: Iterable[str]) -> dict[str, Team]:
    """The existing teams of many names at once, by ``name_key`` (bulk imports)."""
    keys = {name_key(n) for n in names}
    return {t.name_key: t for t in session.scalars(select(Team).where(Team.name_key.in_(keys)))} if keys else {}


def same_team(team: Team, ref: str) -> bool:
    """Whether ``ref`` (an id or a name) names ``team``."""
    return ref.strip() == str(team.id) or name_key(ref) == team.name_key


_INSERT_TEAM = text(
    "INSERT INTO teams (id, slug, name, name_key, member_group, organisation_id, created_at) "
    "VALUES (:id, :slug, :name, :name_key, :member_group, :organisation_id, :created_at) "
    "ON CONFLICT DO NOTHING RETURNING id"
).bindparams(bindparam("id", type_=Team.__table__.c.id.type),
             bindparam("organisation_id", type_=Team.__table__.c.organisation_id.type),
             bindparam("created_at", type_=Team.__table__.c.created_at.type)).columns(id=Team.__table__.c.id.type)


def get_or_create_team(
    ctx: Context, name: str, *, member_group: str | None, organisation_id: uuid.UUID | None = None) -> Team:
    """The team called ``name`` (compared by ``name_key``; or the team whose id ``name`` is), created with a
    unique slug if there is none. Safe to call concurrently: creators of one team all get the same row.
    Creating a team needs ``team:create``."""
    team_id = _team_id(name or "")
    if team_id is not None:
        return resolve_team(ctx, team_id)
    name = _checked_name(name)
    key = name_key(name)
    team = ctx.session.scalar(select(Team).where(Team.name_key == key))
    if team is not None:
        return team
    require(ctx.actor, Permission.TEAM_CREATE)
    base = slugify(name)
    taken = set(ctx.session.scalars(select(Team.slug).where(Team.slug.startswith(base, autoescape=True))))
    now = ctx.clock.now()
    for n in itertools.count(1):
        slug = base if n == 1 else f"{base}-{n}"
        if slug in taken:
            continue
        # INSERT ... ON CONFLICT DO NOTHING: a concurrent creator of the same team makes this a no-op (and we
        # read its row), one of another team with the same slug sends us to the next suffix.
        new_id = ctx.session.execute(_INSERT_TEAM, {"id": uuid.uuid4(), "slug": slug, "name": name, "name_key": key,
                                                "member_group": member_group, "organisation_id": organisation_id,
                                                "created_at": now}).scalar()
        if new_id is None:
            team = ctx.session.scalar(select(Team).where(Team.name_key == key))
            if team is not None:
                return team
            taken.add(slug)
            continue
        audit.record(ctx, "team.created", "team", new_id,
                     {"name": name, "slug": slug, "member_group": member_group,
                      **({"organisation": str(organisation_id)} if organisation_id else {})}, at=now, new=True)
        team = ctx.session.get(Team, new_id)
        assert team is not None
        return team
    raise AssertionError("unreachable")


def create_team(ctx: Context, name: str, *, organisation_id: uuid.UUID | None = None,
                member_group: str | None = None) -> Team:
    """A new team (Conflict when a team of this name exists). Needs ``team:create``."""
    require(ctx.actor, Permission.TEAM_CREATE)
    name = _checked_name(name)
    existing = ctx.session.scalar(select(Team).where(Team.name_key == name_key(name)))
    if existing is not None:
        raise Conflict("a team of this name exists", [FieldError("name", f"{existing.name} ({existing.slug})")])
    if member_group is not None and (len(member_group) > 120 or not member_group.strip()):
        raise Invalid("bad member group", [FieldError("member_group", "1 to 120 characters")])
    return get_or_create_team(ctx, name, member_group=member_group, organisation_id=organisation_id)


def list_teams(ctx: Context, *, organisation_id: uuid.UUID | None = None) -> list[Team]:
    """Every team by name (teams are public), or those of one organisation."""
    query = select(Team).order_by(Team.name_key, Team.id)
    if organisation_id is not None:
        query = query.where(Team.organisation_id == organisation_id)
    return list(ctx.session.scalars(query))
