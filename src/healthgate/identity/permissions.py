"""Permissions are declared, not scattered: services ask ``require(actor, Permission.X, team=...)``."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from healthgate.errors import Forbidden, Unauthorized


class Permission(enum.StrEnum):
    DATASET_VIEW_DRAFT = "dataset:view-draft"
    DATASET_EDIT = "dataset:edit"
    DATASET_PUBLISH = "dataset:publish"
    DATASET_ARCHIVE = "dataset:archive"
    DATASET_IMPORT = "dataset:import"
    TEAM_MANAGE = "team:manage"


class Role(enum.StrEnum):
    TEAM_ADMIN = "team.admin"
    METADATA_MANAGER = "team.metadata_manager"
    METADATA_EDITOR = "team.metadata_editor"
    DEVELOPER = "team.developer"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.TEAM_ADMIN: frozenset(Permission),
    Role.METADATA_MANAGER: frozenset(
        {
            Permission.DATASET_VIEW_DRAFT,
            Permission.DATASET_EDIT,
            Permission.DATASET_PUBLISH,
            Permission.DATASET_ARCHIVE,
            Permission.DATASET_IMPORT,
        }
    ),
    Role.METADATA_EDITOR: frozenset({Permission.DATASET_VIEW_DRAFT, Permission.DATASET_EDIT}),
    Role.DEVELOPER: frozenset(
        {Permission.DATASET_VIEW_DRAFT, Permission.DATASET_EDIT, Permission.DATASET_IMPORT}
    ),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``is_admin`` is the alliance/local administrator, above every team."""

    name: str
    is_admin: bool = False
    roles: dict[uuid.UUID, frozenset[Role]] = field(default_factory=dict)
    authenticated: bool = True

    def can(self, permission: Permission, team: uuid.UUID | None = None) -> bool:
        if not self.authenticated:
            return False
        if self.is_admin:
            return True
        if team is None:
            return False
        return any(permission in GRANTS[r] for r in self.roles.get(team, ()))


ANONYMOUS = Actor(name="anonymous", authenticated=False)
SYSTEM = Actor(name="system", is_admin=True)


def require(actor: Actor, permission: Permission, team: uuid.UUID | None = None) -> None:
    if not actor.authenticated:
        raise Unauthorized(f"sign in or send an API token to {permission.value}")
    if not actor.can(permission, team):
        raise Forbidden(f"{actor.name} may not {permission.value} here")
