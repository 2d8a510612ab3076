"""Team members and their roles."""

from __future__ import annotations

from sqlalchemy import select

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid
from healthgate.identity.models import Membership, Team, User
from healthgate.identity.permissions import Permission, Role, require


def checked_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid("unknown role", [FieldError("role", "one of " + ", ".join(r.value for r in Role))]) from None


def members(ctx: Context, team: Team) -> list[tuple[User, list[Role]]]:
    """The team's members and their roles, by name. Needs ``team:view-members``."""
    require(ctx.actor, Permission.TEAM_VIEW_MEMBERS, on=team)
    held: dict[object, tuple[User, list[Role]]] = {}
    for user, role in ctx.session.execute(select(User, Membership.role).join(Membership, Membership.user_id == User.id)
                                          .where(Membership.team_id == team.id).order_by(User.name, User.id)):
        held.setdefault(user.id, (user, []))[1].append(Role(role))
    return list(held.values())


def add_member(ctx: Context, team: Team, user: User, role: str) -> Membership:
    """Give ``user`` a role in ``team``. Needs ``team:manage`` on the team."""
    require(ctx.actor, Permission.TEAM_MANAGE, on=team)
    checked = checked_role(role)
    if ctx.session.get(Membership, (team.id, user.id, checked.value)) is not None:
        raise Conflict("already holds this role", [FieldError("role", f"{user.email} is already {checked.label}")])
    row = Membership(team_id=team.id, user_id=user.id, role=checked.value, created_at=ctx.now())
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, "team.member_added", "team", team.id, {"user": str(user.id), "role": checked.value},
                 at=ctx.now())
    return row


def remove_member(ctx: Context, team: Team, user: User, role: str) -> None:
    """Take a role away. The last team admin cannot be removed (the team would have nobody to manage it)."""
    require(ctx.actor, Permission.TEAM_MANAGE, on=team)
    checked = checked_role(role)
    row = ctx.session.get(Membership, (team.id, user.id, checked.value))
    if row is None:
        raise Invalid("no such role", [FieldError("role", f"{user.email} is not {checked.label}")])
    if checked is Role.TEAM_ADMIN:
        admins = ctx.session.scalars(select(Membership.user_id).where(
            Membership.team_id == team.id, Membership.role == Role.TEAM_ADMIN.value)).all()
        if len(admins) <= 1:
            raise Conflict("a team keeps at least one team admin",
                           [FieldError("role", "make someone else team admin first")])
    ctx.session.delete(row)
    audit.record(ctx, "team.member_removed", "team", team.id, {"user": str(user.id), "role": checked.value},
                 at=ctx.now())
