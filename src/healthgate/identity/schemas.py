"""Shapes of the identity JSON API: organisations, teams, members, personal tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from healthgate.identity import organisations
from healthgate.identity.models import ApiToken, EmailToken, Organisation, Team, User
from healthgate.identity.organisations import SectorName
from healthgate.identity.permissions import Role

RoleName = Literal["team.admin", "team.metadata_manager", "team.metadata_editor", "team.access_manager",
                   "team.reviewer", "team.developer"]
assert set(RoleName.__args__) == {r.value for r in Role}  # type: ignore[attr-defined]
TEXT = r"\S"


class In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class OrganisationIn(In):
    name: str = Field(min_length=1, max_length=300, pattern=TEXT)
    ror_id: str | None = Field(None, max_length=40, description=(
        "the ROR id: 0, 6 Crockford base32 characters, 2 check digits (ISO 7064 MOD 97-10), e.g. 052gg0110, or "
        "its https://ror.org/ URL; a wrong id is refused saying which part is wrong"))
    sector: SectorName | None = Field(None, description="the Data Use Register's organisation sector")
    country: str | None = Field(None, max_length=2, description="ISO 3166-1 alpha-2 code, e.g. GB")
    website: str | None = Field(None, max_length=500, pattern=r"^https?://\S+$")


class MergeIn(In):
    into: uuid.UUID = Field(description="the organisation that survives and takes every link")


class TeamRef(Out):
    id: uuid.UUID
    slug: str
    name: str


class OrganisationOut(Out):
    id: uuid.UUID
    slug: str
    name: str
    ror_id: str | None
    ror_url: str | None
    sector: str | None
    country: str | None
    country_name: str | None
    website: str | None
    created_at: datetime
    merged_into: uuid.UUID | None = Field(description="set when this duplicate was merged into another")
    teams: list[TeamRef] = Field(default_factory=list)

    @classmethod
    def of(cls, org: Organisation, teams: list[Team] | None = None) -> OrganisationOut:
        return cls(id=org.id, slug=org.slug, name=org.name, ror_id=org.ror_id,
                   ror_url=f"https://ror.org/{org.ror_id}" if org.ror_id else None, sector=org.sector,
                   country=org.country, country_name=organisations.country_name(org.country),
                   website=org.website, created_at=org.created_at, merged_into=org.merged_into_id,
                   teams=[TeamRef(id=t.id, slug=t.slug, name=t.name) for t in teams or []])


class OrganisationPage(Out):
    total: int
    page: int
    per_page: int
    items: list[OrganisationOut]
    next: str | None = None
    prev: str | None = None


class TeamIn(In):
    name: str = Field(min_length=1, max_length=300, pattern=TEXT)
    organisation_id: uuid.UUID | None = None
    member_group: str | None = Field(None, min_length=1, max_length=120, pattern=TEXT)


class OrganisationRef(Out):
    id: uuid.UUID
    name: str
    ror_id: str | None


class TeamOut(Out):
    id: uuid.UUID
    slug: str
    name: str
    member_group: str | None
    organisation: OrganisationRef | None
    created_at: datetime

    @classmethod
    def of(cls, team: Team) -> TeamOut:
        org = team.organisation
        return cls(id=team.id, slug=team.slug, name=team.name, member_group=team.member_group,
                   organisation=OrganisationRef(id=org.id, name=org.name, ror_id=org.ror_id) if org else None,
                   created_at=team.created_at)


class MemberIn(In):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: RoleName


class MemberOut(Out):
    user_id: uuid.UUID
    name: str
    email: str
    roles: list[str]

    @classmethod
    def of(cls, user: User, roles: list[Role]) -> MemberOut:
        return cls(user_id=user.id, name=user.name, email=user.email, roles=[r.value for r in roles])


class InvitationOut(Out):
    id: uuid.UUID
    email: str
    role: str
    expires_at: datetime

    @classmethod
    def of(cls, row: EmailToken) -> InvitationOut:
        return cls(id=row.id, email=str(row.data["email"]), role=str(row.data["role"]), expires_at=row.expires_at)


class MembersOut(Out):
    team: TeamRef
    members: list[MemberOut]
    invitations: list[InvitationOut] = Field(description="sent to addresses without an account, not yet accepted")


class InviteOut(Out):
    outcome: Literal["added", "invited"] = Field(
        description="added: the address has an account and now holds the role; invited: an invitation was emailed")
    email: str
    role: str
    invitation: InvitationOut | None = None


class TokenIn(In):
    name: str = Field(min_length=1, max_length=200, pattern=TEXT)
    scope: Literal["read", "write", "admin"] = "read"
    teams: list[uuid.UUID] = Field(default_factory=list, max_length=100,
                                   description="the teams a write token may change (where you hold a role); "
                                               "none: a personal write token, for your own access requests")
    expires_in_days: int = Field(90, ge=1, le=366)


class TokenOut(Out):
    id: uuid.UUID
    name: str
    hint: str = Field(description="the token's first characters, to tell tokens apart")
    scope: str
    teams: list[uuid.UUID]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenOut:
        return cls(id=row.id, name=row.name, hint=row.hint, scope=row.scope,
                   teams=[uuid.UUID(t) for t in row.team_ids], created_at=row.created_at,
                   expires_at=row.expires_at, last_used_at=row.last_used_at, revoked_at=row.revoked_at)


class NewTokenOut(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")
