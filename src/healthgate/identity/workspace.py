"""The workspace pages of people: a team's members and roles (team admins change them) and the signed-in
person's own API tokens. No SQL here: they call ``identity.members`` and ``identity.tokens``, as the API and
the CLI do."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthgate.context import Context
from healthgate.errors import FieldError, Invalid, NotFound, Unauthorized
from healthgate.identity import members, tokens, users
from healthgate.identity import service as identity
from healthgate.identity.models import Team, User
from healthgate.identity.permissions import Permission, Role
from healthgate.web.deps import WriterContextDep
from healthgate.web.posted import PostedDep
from healthgate.web.templates import render, site_url

router = APIRouter(prefix="/workspace", include_in_schema=False)
EXPIRY_DAYS = (7, 30, 90, 365)
# Roles a team admin hands out in the browser (developer: API tokens only, still granted here).
ROLES = list(Role)


def _members_page(request: Request, ctx: Context, team: Team, *, errors: list[FieldError] | None = None,
                  done: str = "", status_code: int = 200, email: str = "") -> HTMLResponse:
    return render(request, "workspace/members.html", status_code=status_code, team=team,
                  members=members.members(ctx, team), roles=ROLES, errors=errors or [], done=done, email=email,
                  can_manage=ctx.actor.can(Permission.TEAM_MANAGE, team))


@router.get("/teams/{team_ref}/members", response_class=HTMLResponse)
def members_page(request: Request, team_ref: str, ctx: WriterContextDep, done: str = "") -> HTMLResponse:
    return _members_page(request, ctx, identity.resolve_team(ctx, team_ref), done=done)


@router.post("/teams/{team_ref}/members", response_class=HTMLResponse)
def add_member(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    """Give a person a role: someone with an account gets it at once; a new address gets an emailed invitation
    (accepted when they register or sign in)."""
    team = identity.resolve_team(ctx, team_ref)
    email = posted.one("email").strip()
    try:
        done = members.invite(ctx, team, email, posted.one("role"), base_url=site_url(request))
    except Invalid as exc:
        return _members_page(request, ctx, team, errors=exc.errors, status_code=422, email=email)
    outcome = "added" if done.membership is not None else "invited"
    return RedirectResponse(f"/workspace/teams/{team.slug}/members?done={outcome}", status_code=303)


@router.post("/teams/{team_ref}/members/remove", response_class=HTMLResponse)
def remove_member(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = identity.resolve_team(ctx, team_ref)
    try:
        user = users.get_user(ctx, uuid.UUID(posted.one("user")))
    except ValueError:
        raise NotFound("no such person") from None
    members.remove_member(ctx, team, user, posted.one("role"))
    return RedirectResponse(f"/workspace/teams/{team.slug}/members?done=removed", status_code=303)


# ---- my tokens --------------------------------------------------------------------------------------------------


def _me(ctx: Context) -> User:
    if ctx.actor.user_id is None:
        raise Unauthorized("sign in to manage your tokens")
    return users.get_user(ctx, ctx.actor.user_id)


def _tokens_page(request: Request, ctx: Context, *, created: str = "", errors: list[FieldError] | None = None,
                 done: str = "", status_code: int = 200) -> HTMLResponse:
    me = _me(ctx)
    teams = [t for t in (ctx.session.get(Team, tid) for tid in sorted(ctx.actor.team_ids)) if t is not None]
    page = render(request, "workspace/tokens.html", status_code=status_code, me=me, tokens=tokens.list_tokens(ctx, me),
                  teams=sorted(teams, key=lambda t: t.name_key), created=created, errors=errors or [], done=done,
                  expiry_days=EXPIRY_DAYS, now=ctx.now())
    page.headers["Cache-Control"] = "no-store"  # a new token is shown once: never keep the page
    return page


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, ctx: WriterContextDep, done: str = "") -> HTMLResponse:
    return _tokens_page(request, ctx, done=done)


@router.post("/tokens", response_class=HTMLResponse)
def create_token(request: Request, ctx: WriterContextDep, posted: PostedDep) -> HTMLResponse:
    me = _me(ctx)
    days = posted.one("expires_days")
    try:
        team_ids = [uuid.UUID(t) for t in posted.fields.get("teams", [])]
    except ValueError:
        raise Invalid("unknown team", [FieldError("teams", "choose among your teams")]) from None
    try:
        if days and (not days.isdigit() or int(days) not in EXPIRY_DAYS):
            raise Invalid("unknown expiry", [FieldError("expires_days", "choose one of the offered periods")])
        value = tokens.create_token(ctx, me, posted.one("name"), scope=posted.one("scope", "read"), teams=team_ids,
                                    expires_at=ctx.now() + timedelta(days=int(days)) if days else None)
    except Invalid as exc:
        return _tokens_page(request, ctx, errors=exc.errors, status_code=422)
    return _tokens_page(request, ctx, created=value, status_code=201)


@router.post("/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(request: Request, token_id: uuid.UUID, ctx: WriterContextDep, posted: PostedDep) -> Any:
    tokens.revoke_token(ctx, token_id)
    return RedirectResponse("/workspace/tokens?done=revoked", status_code=303)
