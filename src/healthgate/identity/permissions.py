"""Permissions are declared once: an enum, a role -> permissions table, and ``require`` that services call with
the resource acted on (``require(ctx.actor, Permission.DATASET_PUBLISH, on=dataset)``)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from healthgate.errors import Forbidden, Unauthorized


class Permission(enum.StrEnum):
    DATASET_VIEW_DRAFT = "dataset:view-draft"
    DATASET_EDIT = "dataset:edit"
    DATASET_PUBLISH = "dataset:publish"
    DATASET_ARCHIVE = "dataset:archive"
    DATASET_IMPORT = "dataset:import"
    TEAM_VIEW_MEMBERS = "team:view-members"
    TEAM_MANAGE = "team:manage"  # members and their roles
    TEAM_CREATE = "team:create"  # alliance admin
    ORGANISATION_MANAGE = "organisation:manage"  # create, edit and merge organisations (alliance admin)
    USER_MANAGE = "user:manage"  # accounts, admin status, accreditation (alliance admin)
    AUDIT_VIEW = "audit:view"  # browse and export the whole audit log (alliance admin)
    OUTBOX_MANAGE = "outbox:manage"  # see the outbox and send dead messages again (alliance admin)
    # Access requests (issue: data access requests) are checked on the application, not only the team.
    APPLICATION_MANAGE = "application:manage"  # handle, return, decide the team's parts; its form and webhooks
    APPLICATION_REVIEW = "application:review"  # read the team's applications; review when assigned
    DATASET_DATA_USE = "dataset:data-use"  # set a dataset's DUO data-use conditions
    ACCESS_CONFIGURE = "access:configure"  # the question bank and the alliance's clock standards (alliance admin)
    HARVEST_MANAGE = "harvest:manage"  # the team's harvest sources: configure, run, read their reports
    REGISTER_MANAGE = "register:manage"  # the team's data use register: edit, upload, publish, withdraw entries
    ALLIANCE_MANAGE = "alliance:manage"  # members, letters of intent, obligations (alliance admin)


# Permissions that only read: a "read" API token carries these and no others.
READ_ONLY: frozenset[Permission] = frozenset(
    {Permission.DATASET_VIEW_DRAFT, Permission.TEAM_VIEW_MEMBERS, Permission.AUDIT_VIEW})


class Role(enum.StrEnum):
    TEAM_ADMIN = "team.admin"
    METADATA_MANAGER = "team.metadata_manager"
    METADATA_EDITOR = "team.metadata_editor"
    ACCESS_MANAGER = "team.access_manager"
    REVIEWER = "team.reviewer"
    DEVELOPER = "team.developer"  # acts through API tokens only

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.TEAM_ADMIN: "Team admin",
    Role.METADATA_MANAGER: "Metadata manager",
    Role.METADATA_EDITOR: "Metadata editor",
    Role.ACCESS_MANAGER: "Access manager",
    Role.REVIEWER: "Reviewer",
    Role.DEVELOPER: "Developer (API only)",
}

_METADATA_EDIT = {Permission.DATASET_VIEW_DRAFT, Permission.DATASET_EDIT}

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.TEAM_ADMIN: frozenset({
        *_METADATA_EDIT, Permission.DATASET_PUBLISH, Permission.DATASET_ARCHIVE, Permission.DATASET_IMPORT,
        Permission.TEAM_VIEW_MEMBERS, Permission.TEAM_MANAGE,
        Permission.APPLICATION_MANAGE, Permission.APPLICATION_REVIEW, Permission.DATASET_DATA_USE,
        Permission.HARVEST_MANAGE, Permission.REGISTER_MANAGE,
    }),
    Role.METADATA_MANAGER: frozenset({
        *_METADATA_EDIT, Permission.DATASET_PUBLISH, Permission.DATASET_ARCHIVE, Permission.DATASET_IMPORT,
        Permission.TEAM_VIEW_MEMBERS, Permission.DATASET_DATA_USE, Permission.HARVEST_MANAGE,
    }),
    Role.METADATA_EDITOR: frozenset({*_METADATA_EDIT, Permission.TEAM_VIEW_MEMBERS}),
    Role.ACCESS_MANAGER: frozenset({Permission.APPLICATION_MANAGE, Permission.APPLICATION_REVIEW,
                                    Permission.TEAM_VIEW_MEMBERS, Permission.DATASET_DATA_USE,
                                    Permission.REGISTER_MANAGE}),
    Role.REVIEWER: frozenset({Permission.APPLICATION_REVIEW, Permission.TEAM_VIEW_MEMBERS}),
    Role.DEVELOPER: frozenset({*_METADATA_EDIT, Permission.DATASET_IMPORT}),
}

# Roles whose permissions count only when the person acts through an API token.
API_ONLY: frozenset[Role] = frozenset({Role.DEVELOPER})


@dataclass(frozen=True)
class TokenScope:
    """What an API token may do, within its owner's own permissions: "read" (read-only permissions),
    "write" (any of the owner's permissions, in ``teams`` only) or "admin" (all of an admin owner's)."""

    kind: str  # "read" | "write" | "admin"
    teams: frozenset[uuid.UUID] = frozenset()

    def allows(self, permission: Permission, team: uuid.UUID | None) -> bool:
        if self.kind == "admin" or permission in READ_ONLY:
            return True
        return self.kind == "write" and team is not None and team in self.teams


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``name`` is for logs and the audit log only, never shown publicly. ``is_admin`` is the
    alliance admin, above every team. ``token`` is set when acting through an API token, and limits the
    owner's power to the token's scope."""

    name: str
    user_id: uuid.UUID | None = None
    is_admin: bool = False
    roles: Mapping[uuid.UUID, frozenset[Role]] = field(default_factory=dict)
    authenticated: bool = True
    token_id: uuid.UUID | None = None
    scope: TokenScope | None = None

    def roles_in(self, team: uuid.UUID) -> frozenset[Role]:
        held = self.roles.get(team, frozenset())
        return held if self.token_id is not None else held - API_ONLY

    def can(self, permission: Permission, on: Any = None) -> bool:
        if not self.authenticated:
            return False
        team = team_of(on)
        if self.scope is not None and not self.scope.allows(permission, team):
            return False
        if self.is_admin and (self.scope is None or self.scope.kind == "admin" or team is not None
                              or permission in READ_ONLY):  # an admin's read token reads what they may
            return True
        if team is None:
            return False
        return any(permission in GRANTS[r] for r in self.roles_in(team))

    def writes(self, team: uuid.UUID | None = None) -> bool:
        """Whether this person may change things through the way they act: on their own behalf (``team``
        None: their own access requests, enquiries and messages, which no team permission covers) or as a
        member of ``team``. A browser session may; a token only with "admin" scope, or "write" scope (naming
        ``team`` when one is given). A "read" token changes nothing."""
        if not self.authenticated:
            return False
        if self.user_id is None:  # the system itself (the CLI, the worker)
            return self.is_admin and self.scope is None
        if self.scope is None or self.scope.kind == "admin":
            return True
        return self.scope.kind == "write" and (team is None or team in self.scope.teams)

    @property
    def team_ids(self) -> frozenset[uuid.UUID]:
        return frozenset(t for t in self.roles if self.roles_in(t))


def team_of(on: Any) -> uuid.UUID | None:
    """The team a resource belongs to: a team id, a Team, or anything with a ``team_id``."""
    if on is None or isinstance(on, uuid.UUID):
        return on
    team_id = getattr(on, "team_id", None)
    if team_id is not None:
        return team_id
    if type(on).__name__ == "Team":
        return on.id
    raise TypeError(f"cannot tell the team of {type(on).__name__}")


ANONYMOUS = Actor(name="anonymous", authenticated=False)
SYSTEM = Actor(name="system", is_admin=True)


def require(actor: Actor, permission: Permission, on: Any = None) -> None:
    """Raise Unauthorized (not signed in) or Forbidden unless ``actor`` may do ``permission`` on ``on`` (a
    resource, a team or its id; None for permissions above teams)."""
    if not actor.authenticated:
        raise Unauthorized(f"sign in or send an API token to {permission.value}")
    if not actor.can(permission, on):
        raise Forbidden(f"you may not {permission.value} here")
