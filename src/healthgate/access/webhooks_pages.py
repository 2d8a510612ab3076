"""The workspace pages of a team's webhooks: list, add (the secret shown once), disable or enable, new secret,
delete, and each webhook's deliveries with status, attempts and last error ("send again" for dead ones).
``application:manage`` on the team; no SQL here: ``access.webhooks`` does the work."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthgate.access import webhooks
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.identity import service as teams
from healthgate.identity.models import Team
from healthgate.web.deps import SettingsDep, WriterContextDep
from healthgate.web.posted import PostedDep
from healthgate.web.templates import render

router = APIRouter(prefix="/workspace", include_in_schema=False)
DONE = {"disabled": "The webhook is disabled.", "enabled": "The webhook is enabled.",
        "deleted": "The webhook was deleted.", "retried": "The delivery is queued to be sent again."}


def _base(team: Team) -> str:
    return f"/workspace/teams/{team.slug}/access/webhooks"


def _page(request: Request, ctx: Context, team: Team, *, errors: list[FieldError] | None = None, url: str = "",
          chosen: list[str] | None = None, secret: str = "", done: str = "", status_code: int = 200) -> HTMLResponse:
    page = render(request, "access/webhooks/index.html", status_code=status_code, team=team,
                  hooks=webhooks.for_team(ctx, team.id), deliveries=webhooks.deliveries(ctx, team.id, limit=20),
                  events=webhooks.EVENTS, chosen=chosen if chosen is not None else list(webhooks.DEFAULT_EVENTS),
                  errors=errors or [], url=url, secret=secret, done=DONE.get(done, ""), base=_base(team))
    page.headers["Cache-Control"] = "no-store"  # a secret is shown once: never keep the page
    return page


@router.get("/teams/{team_ref}/access/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, team_ref: str, ctx: WriterContextDep, done: str = "") -> HTMLResponse:
    return _page(request, ctx, teams.resolve_team(ctx, team_ref), done=done)


@router.post("/teams/{team_ref}/access/webhooks", response_class=HTMLResponse)
def add_webhook(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep,
                settings: SettingsDep) -> HTMLResponse:
    team = teams.resolve_team(ctx, team_ref)
    url, chosen = posted.one("url").strip(), posted.fields.get("events", [])
    try:
        _, secret = webhooks.register(ctx, team.id, url, chosen, allow_http=settings.webhook_allow_http)
    except Invalid as exc:
        return _page(request, ctx, team, errors=exc.errors, url=url, chosen=chosen, status_code=422)
    return _page(request, ctx, team, secret=secret, status_code=201)


def _hook_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise Invalid("unknown webhook", [FieldError("webhook", "no such webhook")]) from None


@router.post("/teams/{team_ref}/access/webhooks/{webhook_id}/active", response_class=HTMLResponse)
def set_active(request: Request, team_ref: str, webhook_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = teams.resolve_team(ctx, team_ref)
    active = posted.one("active") == "1"
    webhooks.set_active(ctx, team.id, _hook_id(webhook_id), active)
    return RedirectResponse(f"{_base(team)}?done={'enabled' if active else 'disabled'}", status_code=303)


@router.post("/teams/{team_ref}/access/webhooks/{webhook_id}/secret", response_class=HTMLResponse)
def new_secret(request: Request, team_ref: str, webhook_id: str, ctx: WriterContextDep) -> HTMLResponse:
    team = teams.resolve_team(ctx, team_ref)
    secret = webhooks.rotate_secret(ctx, team.id, _hook_id(webhook_id))
    return _page(request, ctx, team, secret=secret)


@router.post("/teams/{team_ref}/access/webhooks/{webhook_id}/delete", response_class=HTMLResponse)
def delete_webhook(request: Request, team_ref: str, webhook_id: str, ctx: WriterContextDep) -> Any:
    team = teams.resolve_team(ctx, team_ref)
    webhooks.delete(ctx, team.id, _hook_id(webhook_id))
    return RedirectResponse(f"{_base(team)}?done=deleted", status_code=303)


@router.get("/teams/{team_ref}/access/webhooks/{webhook_id}", response_class=HTMLResponse)
def webhook_page(request: Request, team_ref: str, webhook_id: str, ctx: WriterContextDep,
                 done: str = "") -> HTMLResponse:
    team = teams.resolve_team(ctx, team_ref)
    hook = webhooks.get(ctx, team.id, _hook_id(webhook_id))
    return render(request, "access/webhooks/webhook.html", team=team, hook=hook, base=_base(team),
                  deliveries=webhooks.deliveries(ctx, team.id, hook.id), done=DONE.get(done, ""))


@router.post("/teams/{team_ref}/access/webhooks/deliveries/{delivery_id}/retry", response_class=HTMLResponse)
def retry_delivery(request: Request, team_ref: str, delivery_id: str, ctx: WriterContextDep) -> Any:
    team = teams.resolve_team(ctx, team_ref)
    delivery = webhooks.send_again(ctx, team.id, _hook_id(delivery_id))
    return RedirectResponse(f"{_base(team)}/{delivery.webhook_id}?done=retried", status_code=303)
