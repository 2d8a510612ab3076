"""Custodians' webhooks: a team registers URLs of its own system, and each event of the team's parts it
subscribes to (by default submissions and decisions) is POSTed there as signed JSON.

A delivery is an outbox message of kind "webhook" (one ``WebhookDelivery`` row each), queued in the transaction
of the command that caused it and sent by the outbox worker (``outbox.worker``, ``outbox.senders.WebhookSender``):
retried with backoff, never following a redirect. The secret is read when sending, never copied into the
outbox; a webhook deleted or disabled before its delivery is sent makes that delivery dead. Only a team's
access managers (``application:manage``) see or change its webhooks; every change is audited (the secret never).
See docs/access-notify.md for the body and how a receiver verifies the signature.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from healthgate.access.lifecycle import PartState, State
from healthgate.access.models import Application, Webhook, WebhookDelivery
from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity.models import Team
from healthgate.identity.permissions import Permission, require
from healthgate.outbox import service as outbox
from healthgate.outbox.models import OutboxMessage
from healthgate.outbox.senders import TEMPLATE_BASE_URL, check_webhook_url

# Events a webhook may subscribe to (an application's events that concern a custodian's part).
EVENTS: tuple[str, ...] = ("submitted", "resubmitted", "returned", "reviewers_assigned", "reviewed", "approved",
                           "approved_with_conditions", "rejected", "closed", "withdrawn")
DEFAULT_EVENTS: tuple[str, ...] = ("submitted", "resubmitted", "approved", "approved_with_conditions", "rejected")
MAX_PER_TEAM = 10
MAX_URL = 1000
# What of an event's data a webhook carries (never reviewers' comments, answers or personal details).
DATA_KEYS = ("reason", "conditions", "phase", "due", "recommendation")
CUSTODIAN_APPLICATION = "/workspace/teams/{team}/applications/{id}"


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery as the team sees it: the outbox message's status, attempts and last error."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    event_type: str
    application_id: uuid.UUID | None
    created_at: datetime
    status: str  # pending | sent | dead
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _clean_url(url: str, allow_http: bool) -> str:
    url = (url or "").strip()
    if not url:
        raise Invalid("give the URL of your system", [FieldError("url", "give a URL")])
    if len(url) > MAX_URL:
        raise Invalid("the URL is too long", [FieldError("url", f"at most {MAX_URL} characters")])
    problem = check_webhook_url(url, allow_http=allow_http)
    if problem is not None:
        raise Invalid("this URL cannot receive webhooks", [FieldError("url", problem)])
    return url


def _clean_events(events: Sequence[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(e.strip() for e in (events if events is not None else DEFAULT_EVENTS) if e.strip()))
    bad = [FieldError(f"events/{i}", f"one of {', '.join(EVENTS)}") for i, e in enumerate(chosen) if e not in EVENTS]
    if bad:
        raise Invalid("unknown events", bad)
    if not chosen:
        raise Invalid("choose at least one event", [FieldError("events", "choose at least one event")])
    return chosen


def register(ctx: Context, team_id: uuid.UUID, url: str, events: Sequence[str] | None = None, *,
             allow_http: bool = False) -> tuple[Webhook, str]:
    """Register a URL for the team; returns the webhook and its secret (shown once: keep it)."""
    require(ctx.actor, Permission.APPLICATION_MANAGE, on=team_id)
    clean = _clean_url(url, allow_http)
    chosen = _clean_events(events)
    count = ctx.session.scalar(select(func.count()).select_from(Webhook).where(Webhook.team_id == team_id)) or 0
    if count >= MAX_PER_TEAM:
        raise Conflict("too many webhooks", [FieldError("url", f"a team has at most {MAX_PER_TEAM} webhooks")])
    secret = new_secret()
    hook = Webhook(id=uuid.uuid4(), team_id=team_id, url=clean, secret=secret, events=chosen, active=True,
                   created_at=ctx.now())
    ctx.session.add(hook)
    ctx.session.flush()
    audit.record(ctx, "webhook.created", "webhook", hook.id,
                 {"team_id": str(team_id), "url": clean, "events": chosen})
    return hook, secret


def for_team(ctx: Context, team_id: uuid.UUID) -> list[Webhook]:
    require(ctx.actor, Permission.APPLICATION_MANAGE, on=team_id)
    return list(ctx.session.scalars(select(Webhook).where(Webhook.team_id == team_id)
                                    .order_by(Webhook.created_at, Webhook.id)))


def get(ctx: Context, team_id: uuid.UUID, webhook_id: uuid.UUID) -> Webhook:
    require(ctx.actor, Permission.APPLICATION_MANAGE, on=team_id)
    hook = ctx.session.get(Webhook, webhook_id)
    if hook is None or hook.team_id != team_id:
        raise NotFound(f"no webhook {webhook_id}")
    return hook


def set_active(ctx: Context, team_id: uuid.UUID, webhook_id: uuid.UUID, active: bool) -> Webhook:
    """Disable (deliveries not yet sent then fail as dead) or enable a webhook again."""
    hook = get(ctx, team_id, webhook_id)
    if hook.active != active:
        hook.active = active
        audit.record(ctx, "webhook.enabled" if active else "webhook.disabled", "webhook", hook.id,
                     {"team_id": str(team_id)})
    return hook


def rotate_secret(ctx: Context, team_id: uuid.UUID, webhook_id: uuid.UUID) -> str:
    """A new secret (shown once); deliveries from now on are signed with it."""
    hook = get(ctx, team_id, webhook_id)
    hook.secret = new_secret()
    audit.record(ctx, "webhook.secret_rotated", "webhook", hook.id, {"team_id": str(team_id)})
    return hook.secret


def delete(ctx: Context, team_id: uuid.UUID, webhook_id: uuid.UUID) -> None:
    hook = get(ctx, team_id, webhook_id)
    audit.record(ctx, "webhook.deleted", "webhook", hook.id, {"team_id": str(team_id), "url": hook.url})
    ctx.session.delete(hook)
    ctx.session.flush()


def deliveries(ctx: Context, team_id: uuid.UUID, webhook_id: uuid.UUID | None = None,
               limit: int = 100) -> list[Delivery]:
    """The team's latest deliveries (of one webhook, or of all), newest first."""
    require(ctx.actor, Permission.APPLICATION_MANAGE, on=team_id)
    stmt = (select(WebhookDelivery, OutboxMessage)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .outerjoin(OutboxMessage, OutboxMessage.id == WebhookDelivery.outbox_id)
            .where(Webhook.team_id == team_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.outbox_id.desc()).limit(limit))
    if webhook_id is not None:
        stmt = stmt.where(WebhookDelivery.webhook_id == webhook_id)
    return [_delivery(d, m) for d, m in ctx.session.execute(stmt).all()]


def _delivery(d: WebhookDelivery, m: OutboxMessage | None) -> Delivery:
    return Delivery(id=d.id, webhook_id=d.webhook_id, event_type=d.event_type, application_id=d.application_id,
                    created_at=d.created_at, status=m.status if m else "dead", attempts=m.attempts if m else 0,
                    last_error=m.last_error if m else "the outbox message is gone",
                    sent_at=m.sent_at if m else None,
                    next_attempt_at=m.next_attempt_at if m is not None and m.status == "pending" else None)


def send_again(ctx: Context, team_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    """Queue a dead delivery again (its attempts start from zero). Only dead deliveries may be sent again."""
    require(ctx.actor, Permission.APPLICATION_MANAGE, on=team_id)
    row = ctx.session.get(WebhookDelivery, delivery_id)
    hook = ctx.session.get(Webhook, row.webhook_id) if row is not None else None
    if row is None or hook is None or hook.team_id != team_id:
        raise NotFound(f"no delivery {delivery_id}")
    if not hook.active:
        raise Conflict("the webhook is disabled", [FieldError("webhook", "enable the webhook first")])
    done = ctx.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row.outbox_id, OutboxMessage.status == "dead")
        .values(status="pending", attempts=0, next_attempt_at=ctx.now(), claimed_by=None, claimed_until=None,
                last_error=None)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("only a dead delivery can be sent again", [FieldError("delivery", "is not dead")])
    ctx.session.info[outbox._QUEUED] = True  # wake the in-process worker on commit
    audit.record(ctx, "webhook.delivery_retried", "webhook", hook.id,
                 {"team_id": str(team_id), "delivery": str(row.id), "outbox_id": row.outbox_id})
    message = ctx.session.get(OutboxMessage, row.outbox_id)
    if message is not None:
        ctx.session.refresh(message)
    return _delivery(row, message)


def target(session: Session, webhook_id: Any) -> Target | None:
    """Where and with which secret to send a delivery now (the worker asks), or None: deleted or disabled."""
    try:
        hook = session.get(Webhook, uuid.UUID(str(webhook_id)))
    except ValueError:
        return None
    if hook is None or not hook.active:
        return None
    return Target(hook.url, hook.secret)


# -- queueing (called by access.notify for every event) ----------------------------------------------------


def _teams(state: State, event_type: str, data: dict[str, Any], team_id: uuid.UUID | None) -> list[uuid.UUID]:
    if team_id is not None:
        return [team_id]
    if event_type == "submitted":
        return list(state.parts)
    if event_type == "resubmitted":
        return [uuid.UUID(t) for t in data.get("teams", ())]
    if event_type == "withdrawn":
        return [t for t, p in state.parts.items() if p.state == PartState.WITHDRAWN]
    return []  # drafts and the applicant's own edits are nobody's business but the applicant's


def _literal(text: str) -> str:
    return text.replace("$", "$$")


def application_event(ctx: Context, row: Application, state: State, event_type: str, data: dict[str, Any],
                      team_id: uuid.UUID | None) -> None:
    """Queue one delivery per active webhook of each team concerned that subscribes to this event."""
    if event_type not in EVENTS:
        return
    for team in _teams(state, event_type, data, team_id):
        hooks = [h for h in ctx.session.scalars(select(Webhook).where(Webhook.team_id == team, Webhook.active))
                 if not h.events or event_type in h.events]
        if not hooks:
            continue
        team_row = ctx.session.get(Team, team)
        part = state.parts.get(team)
        for hook in hooks:
            delivery_id = uuid.uuid4()
            body = {
                "id": str(delivery_id),
                "type": f"application.{event_type}",
                "created": ctx.now().isoformat(),
                "team": {"id": str(team), "name": _literal(team_row.name) if team_row else None},
                "application": {
                    "id": str(row.id), "reference": row.reference, "title": _literal(row.title or ""),
                    "status": state.status.value, "part_state": part.state.value if part else None,
                    "datasets": [str(d) for d, t in state.datasets if t == team],
                    "url": "$base_url" + CUSTODIAN_APPLICATION.format(
                        team=team_row.slug if team_row else team, id=row.id),
                    "api_url": f"$base_url/api/v1/applications/{row.id}",
                },
                "data": {k: _escape(data[k]) for k in DATA_KEYS if k in data},
            }
            message = outbox.enqueue(ctx, "webhook", {
                "webhook_id": str(hook.id), "event_id": str(delivery_id), "event": f"application.{event_type}",
                "body": body, "template": TEMPLATE_BASE_URL})
            ctx.session.flush()
            ctx.session.add(WebhookDelivery(id=delivery_id, webhook_id=hook.id, outbox_id=message.id,
                                            event_type=event_type, application_id=row.id, created_at=ctx.now()))


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return _literal(value)
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value
