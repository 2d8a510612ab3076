"""Team members and their roles, and invitations by email."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from healthgate.identity import tokens, users
from healthgate.identity.models import EmailToken, Membership, Team, User
from healthgate.identity.permissions import Permission, Role, require
from healthgate.outbox import service as outbox


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


# ---------------------------------------------------------------------------------------------------------------
# Invitations: a team admin adds a person by email address. An existing account gets the role at once; a new
# address gets an emailed, single-use, expiring invitation (an EmailToken of purpose "invite", issued by the
# inviting person) that is accepted when the invited person signs up or signs in with it.

INVITATION_LIFETIME = timedelta(days=7)
INVITE = "invite"


@dataclass(frozen=True)
class Invited:
    """The outcome of ``invite``: ``membership`` when the address has an account, else the invitation sent."""

    email: str
    role: Role
    membership: Membership | None = None
    invitation: EmailToken | None = None

    @property
    def added(self) -> bool:
        return self.membership is not None


def invitation_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/invitations/{token}"


def invite(ctx: Context, team: Team, email: str, role: str, *, base_url: str) -> Invited:
    """Add the person with this email address to ``team`` as ``role``, or invite them by email if they have no
    account yet. Needs ``team:manage`` on the team; an invitation is issued by a person (not the system)."""
    require(ctx.actor, Permission.TEAM_MANAGE, on=team)
    checked = checked_role(role)
    address = users.checked_email(email)
    person = users.find_by_email(ctx, address)
    if person is not None:
        return Invited(person.email, checked, membership=add_member(ctx, team, person, checked.value))
    if ctx.actor.user_id is None:
        raise Invalid("no account with this email address", [FieldError(
            "email", "there is no account for this address; create it first (healthgate users create)")])
    key = users.email_key(address)
    for row in pending_invitations(ctx, team):
        if row.data.get("email_key") == key and row.data.get("role") == checked.value:
            raise Conflict("already invited", [FieldError("email", f"{address} is already invited as "
                                                                   f"{checked.label}")])
    token = secrets.token_urlsafe(32)
    now = ctx.now()
    row = EmailToken(user_id=ctx.actor.user_id, purpose=INVITE, token_hash=tokens.token_hash(token),
                     data={"email": address, "email_key": key, "team_id": str(team.id), "role": checked.value},
                     created_at=now, expires_at=now + INVITATION_LIFETIME)
    ctx.session.add(row)
    ctx.session.flush()
    outbox.enqueue_email(
        ctx, address, f"You are invited to join {team.name} on healthgate",
        f"{ctx.actor.name} invites you to join the team {team.name} as {checked.label}.\n\n"
        f"Accept the invitation (it works once, until {row.expires_at:%Y-%m-%d %H:%M} UTC):\n"
        f"{invitation_link(base_url, token)}\n\n"
        "Sign up with this address, or sign in if you already have an account.\n")
    # the email address is the invitation's subject; the token never goes into the audit log
    audit.record(ctx, "team.member_invited", "team", team.id,
                 {"invitation": str(row.id), "email": address, "role": checked.value}, at=now)
    return Invited(address, checked, invitation=row)


def pending_invitations(ctx: Context, team: Team) -> list[EmailToken]:
    """The team's invitations not yet accepted, revoked or expired. Needs ``team:view-members``."""
    require(ctx.actor, Permission.TEAM_VIEW_MEMBERS, on=team)
    rows = ctx.session.scalars(select(EmailToken).where(EmailToken.purpose == INVITE, EmailToken.used_at.is_(None),
                                                        EmailToken.expires_at > ctx.now())
                               .order_by(EmailToken.created_at))
    return [r for r in rows if r.data.get("team_id") == str(team.id)]


def find_invitation(ctx: Context, token: str) -> tuple[EmailToken, Team, Role]:
    """The live invitation for an emailed token, its team and role; NotFound for an unknown, used, revoked
    or expired one (the same answer for each, so a token cannot be probed)."""
    row = ctx.session.scalar(select(EmailToken).where(EmailToken.token_hash == tokens.token_hash(token or ""),
                                                      EmailToken.purpose == INVITE))
    if row is None or row.used_at is not None or row.expires_at <= ctx.now():
        raise NotFound("this invitation is unknown, used or expired; ask the team admin for a new one")
    team = ctx.session.get(Team, uuid.UUID(str(row.data["team_id"])))
    if team is None:
        raise NotFound("this invitation's team no longer exists")
    return row, team, Role(str(row.data["role"]))


def accept_invitation(ctx: Context, token: str, user: User) -> Membership:
    """``user`` (who just signed up or signed in with the emailed link) takes the invited role; the token
    then never works again. The inviter's power was checked when the invitation was issued."""
    row, team, role = find_invitation(ctx, token)
    if ctx.actor.user_id != user.id:
        raise Forbidden("an invitation is accepted by the person signing in with it")
    now = ctx.now()
    row.used_at = now
    membership = ctx.session.get(Membership, (team.id, user.id, role.value))
    if membership is None:
        membership = Membership(team_id=team.id, user_id=user.id, role=role.value, created_at=now)
        ctx.session.add(membership)
    if user.email_verified_at is None and users.email_key(user.email) == row.data.get("email_key"):
        user.email_verified_at = now  # they followed a link sent to this address
    ctx.session.flush()
    audit.record(ctx, "team.invitation_accepted", "team", team.id,
                 {"invitation": str(row.id), "user": str(user.id), "role": role.value}, at=now)
    return membership


def revoke_invitation(ctx: Context, team: Team, invitation_id: uuid.UUID) -> None:
    require(ctx.actor, Permission.TEAM_MANAGE, on=team)
    row = ctx.session.get(EmailToken, invitation_id)
    if row is None or row.purpose != INVITE or row.data.get("team_id") != str(team.id) or row.used_at is not None:
        raise NotFound(f"no pending invitation {invitation_id}")
    row.used_at = ctx.now()
    audit.record(ctx, "team.invitation_revoked", "team", team.id, {"invitation": str(row.id)}, at=ctx.now())
