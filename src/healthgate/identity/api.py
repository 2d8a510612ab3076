"""/api/v1/organisations, /api/v1/teams and /api/v1/me/tokens: parse, call the identity services, shape the
answer. No SQL here; every permission is checked by the services."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from healthgate.context import Context
from healthgate.errors import FieldError, Invalid, NotFound, Unauthorized
from healthgate.identity import members as team_members
from healthgate.identity import organisations, tokens, users
from healthgate.identity import service as teams
from healthgate.identity.models import Team, User
from healthgate.identity.permissions import Role
from healthgate.identity.schemas import (
    InvitationOut,
    InviteOut,
    MemberIn,
    MemberOut,
    MembersOut,
    MergeIn,
    NewTokenOut,
    OrganisationIn,
    OrganisationOut,
    OrganisationPage,
    RoleName,
    TeamIn,
    TeamOut,
    TeamRef,
    TokenIn,
    TokenOut,
)
from healthgate.web import http
from healthgate.web.deps import ContextDep, SettingsDep, WriterContextDep, get_actor
from healthgate.web.openapi import OPTIONAL_AUTH, problems

router = APIRouter(prefix="/api/v1", tags=["identity"], dependencies=[Depends(get_actor)])
OrgId = Annotated[uuid.UUID, Path(description="the organisation's id")]
# A body that is not even text (bytes that are not UTF-8) cannot be parsed: FastAPI answers 400.
TeamRefP = Annotated[str, Path(min_length=1, max_length=300, description="the team's id or slug")]


def _team(ctx: Context, team: str) -> Team:
    return teams.resolve_team(ctx, team)


# --- organisations --------------------------------------------------------------------------------------------

@router.get("/organisations", response_model=OrganisationPage, operation_id="listOrganisations",
            openapi_extra=OPTIONAL_AUTH, responses=problems(422))
def list_organisations(
    ctx: ContextDep, request: Request, response: Response, settings: SettingsDep,
    q: Annotated[str | None, Query(max_length=300, description="part of the name, or a ROR id")] = None,
    page: Annotated[int, Query(ge=1, le=10**9)] = 1,
    per_page: Annotated[int, Query(ge=1, description="at most the server's max_per_page")] = 20,
    include_merged: bool = False,
) -> OrganisationPage:
    """The organisation registry, by name. Merged duplicates are left out unless asked for."""
    if per_page > settings.max_per_page:
        raise Invalid("per_page is too large", [FieldError("query.per_page", f"at most {settings.max_per_page}")])
    result = organisations.list_organisations(ctx, q=q, page=page, per_page=per_page,
                                              include_merged=include_merged)
    nxt, prev = http.page_links(request, page, per_page, result.total)
    http.link_header(response, nxt, prev)
    return OrganisationPage(total=result.total, page=page, per_page=per_page, next=nxt, prev=prev,
                            items=[OrganisationOut.of(o) for o in result.items])


@router.get("/organisations/{org_id}", response_model=OrganisationOut, operation_id="getOrganisation",
            openapi_extra=OPTIONAL_AUTH, responses=problems(404, 422))
def get_organisation(ctx: ContextDep, org_id: OrgId) -> OrganisationOut:
    """One organisation and its teams. A merged duplicate says what it was merged into (``merged_into``)."""
    org = organisations.get_organisation(ctx, org_id)
    return OrganisationOut.of(org, organisations.teams_of(ctx, org))


@router.post("/organisations", status_code=201, response_model=OrganisationOut,
             operation_id="createOrganisation", responses=problems(401, 403, 409, 422, body=True))
def create_organisation(ctx: WriterContextDep, body: OrganisationIn, request: Request,
                        response: Response) -> OrganisationOut:
    """Add an organisation (alliance admin). A ROR id must carry its right check digits and be unused."""
    org = organisations.create_organisation(ctx, body.name, ror_id=body.ror_id, sector=body.sector,
                                            country=body.country, website=body.website)
    response.headers["Location"] = http.absolute(request, f"/api/v1/organisations/{org.id}")
    return OrganisationOut.of(org)


@router.post("/organisations/{org_id}/merge", response_model=OrganisationOut, operation_id="mergeOrganisation",
             responses=problems(401, 403, 404, 409, 422, body=True))
def merge_organisation(ctx: WriterContextDep, org_id: OrgId, body: MergeIn) -> OrganisationOut:
    """Merge this duplicate into ``into`` (alliance admin): its teams, affiliations and every other link move
    over; the answer is the surviving organisation."""
    duplicate = organisations.get_organisation(ctx, org_id)
    into = organisations.get_organisation(ctx, body.into)
    survivor = organisations.merge(ctx, duplicate, into)
    return OrganisationOut.of(survivor, organisations.teams_of(ctx, survivor))


# --- teams ----------------------------------------------------------------------------------------------------

@router.get("/teams", response_model=list[TeamOut], operation_id="listTeams", openapi_extra=OPTIONAL_AUTH,
            responses=problems(422))
def list_teams(ctx: ContextDep, organisation: Annotated[uuid.UUID | None, Query(
        description="only this organisation's teams")] = None) -> list[TeamOut]:
    """Every custodian team (teams are public: custodians publish under their name)."""
    return [TeamOut.of(t) for t in teams.list_teams(ctx, organisation_id=organisation)]


@router.get("/teams/{team}", response_model=TeamOut, operation_id="getTeam", openapi_extra=OPTIONAL_AUTH,
            responses=problems(404, 422))
def get_team(ctx: ContextDep, team: TeamRefP) -> TeamOut:
    return TeamOut.of(_team(ctx, team))


@router.post("/teams", status_code=201, response_model=TeamOut, operation_id="createTeam",
             responses=problems(401, 403, 404, 409, 422, body=True))
def create_team(ctx: WriterContextDep, body: TeamIn, request: Request, response: Response) -> TeamOut:
    """Create a custodian team, belonging to an organisation (alliance admin)."""
    org = organisations.current(ctx, organisations.get_organisation(ctx, body.organisation_id)) \
        if body.organisation_id else None
    team = teams.create_team(ctx, body.name, organisation_id=org.id if org else None,
                             member_group=body.member_group)
    response.headers["Location"] = http.absolute(request, f"/api/v1/teams/{team.id}")
    return TeamOut.of(team)


@router.get("/teams/{team}/members", response_model=MembersOut, operation_id="listTeamMembers",
            responses=problems(401, 403, 404, 422))
def list_members(ctx: WriterContextDep, team: TeamRefP) -> MembersOut:
    """The team's members and roles, and its pending invitations (to the team's members)."""
    row = _team(ctx, team)
    held = team_members.members(ctx, row)
    pending = team_members.pending_invitations(ctx, row)
    return MembersOut(team=TeamRef(id=row.id, slug=row.slug, name=row.name),
                      members=[MemberOut.of(u, r) for u, r in held],
                      invitations=[InvitationOut.of(i) for i in pending])


@router.post("/teams/{team}/members", status_code=201, response_model=InviteOut, operation_id="addTeamMember",
             responses=problems(401, 403, 404, 409, 422, body=True))
def add_member(ctx: WriterContextDep, team: TeamRefP, body: MemberIn, settings: SettingsDep) -> InviteOut:
    """Give the person with this email address a role (team admin). An address without an account is sent an
    invitation instead, accepted when they sign up or sign in with its link."""
    row = _team(ctx, team)
    done = team_members.invite(ctx, row, body.email, body.role, base_url=settings.base_url)
    return InviteOut(outcome="added" if done.added else "invited", email=done.email, role=done.role.value,
                     invitation=InvitationOut.of(done.invitation) if done.invitation else None)


@router.delete("/teams/{team}/members/{user_id}/roles/{role}", status_code=204,
               operation_id="removeTeamMember", responses={**problems(401, 403, 404, 409, 422),
                                                           204: {"description": "The role was taken away"}})
def remove_member(ctx: WriterContextDep, team: TeamRefP, user_id: uuid.UUID, role: RoleName) -> Response:
    """Take a role away from a member (team admin). A team keeps at least one team admin."""
    row = _team(ctx, team)
    person = users.get_user(ctx, user_id)
    team_members.remove_member(ctx, row, person, Role(role).value)
    return Response(status_code=204)


# --- my tokens ------------------------------------------------------------------------------------------------

def _me(ctx: Context) -> User:
    if ctx.actor.user_id is None:
        raise Unauthorized("personal tokens belong to a person")
    return users.get_user(ctx, ctx.actor.user_id)


@router.get("/me/tokens", response_model=list[TokenOut], operation_id="listMyTokens",
            responses=problems(401, 422))
def list_my_tokens(ctx: WriterContextDep) -> list[TokenOut]:
    """Your API tokens, newest first, with their expiry and last use (never the tokens themselves)."""
    return [TokenOut.of(t) for t in tokens.list_tokens(ctx, _me(ctx))]


@router.post("/me/tokens", status_code=201, response_model=NewTokenOut, operation_id="createMyToken",
             responses=problems(401, 403, 422, body=True))
def create_my_token(ctx: WriterContextDep, body: TokenIn) -> NewTokenOut:
    """A new personal token, shown in this answer only. Never more powerful than you (or than the token you
    call with): "read", "write" to teams where you hold a role, or "admin" for alliance admins."""
    owner = _me(ctx)
    expires = ctx.now() + timedelta(days=body.expires_in_days)
    value = tokens.create_token(ctx, owner, body.name, scope=body.scope, teams=list(body.teams),
                                expires_at=expires)
    return NewTokenOut(**TokenOut.of(tokens.row_for(ctx, value)).model_dump(), token=value)


@router.delete("/me/tokens/{token_id}", status_code=204, operation_id="revokeMyToken",
               responses={**problems(401, 404, 422), 204: {"description": "Revoked"}})
def revoke_my_token(ctx: WriterContextDep, token_id: uuid.UUID) -> Response:
    """Revoke one of your tokens; it stops working at once."""
    if token_id not in {t.id for t in tokens.list_tokens(ctx, _me(ctx))}:
        raise NotFound(f"no token {token_id} of yours")
    tokens.revoke_token(ctx, token_id)
    return Response(status_code=204)
