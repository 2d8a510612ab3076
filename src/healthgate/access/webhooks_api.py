"""JSON API for a custodian team's webhooks and their deliveries (``application:manage`` on the team). No SQL
here: ``access.webhooks`` does the work. A new webhook's secret, and a rotated one, are shown once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from healthgate.access import webhooks
from healthgate.access.models import Webhook
from healthgate.identity import service as teams
from healthgate.web import http
from healthgate.web.deps import SettingsDep, WriterContextDep, get_actor
from healthgate.web.openapi import problems

router = APIRouter(prefix="/api/v1", tags=["access"], dependencies=[Depends(get_actor)])
TeamRefP = Annotated[str, Path(min_length=1, max_length=300, description="the team's id or slug")]
WebhookP = Annotated[uuid.UUID, Path(description="the webhook's id")]
SIGNING = ("Each delivery is a POST of a JSON body with `X-Healthgate-Signature: sha256=<hex>` (HMAC-SHA256 "
           "with the webhook's secret over `<X-Healthgate-Timestamp>.<body>`), `X-Healthgate-Timestamp` (Unix "
           "seconds), `X-Healthgate-Event-Id` (the same on every retry) and `X-Healthgate-Event`.")


Event = Literal["submitted", "resubmitted", "returned", "reviewers_assigned", "reviewed", "approved",
                "approved_with_conditions", "rejected", "closed", "withdrawn"]  # webhooks.EVENTS


class WebhookIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(max_length=webhooks.MAX_URL, description="https URL of your system")
    events: list[Event] | None = Field(default=None, min_length=1, max_length=len(webhooks.EVENTS),
                                     description=f"events to send (default: {', '.join(webhooks.DEFAULT_EVENTS)}); "
                                                 f"any of {', '.join(webhooks.EVENTS)}")


class WebhookPatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    active: bool = Field(description="false: stop sending (deliveries not yet sent become dead)")


class WebhookOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    team_id: uuid.UUID
    url: str
    events: list[str]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, hook: Webhook) -> WebhookOut:
        return cls(id=hook.id, team_id=hook.team_id, url=hook.url, events=list(hook.events or []),
                   active=hook.active, created_at=hook.created_at)


class WebhookCreated(WebhookOut):
    secret: str = Field(description="the signing secret, shown this once: keep it in your system")


class SecretOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    secret: str = Field(description="the new signing secret, shown this once")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(description="also the event id its receiver sees (X-Healthgate-Event-Id)")
    webhook_id: uuid.UUID
    event_type: str
    application_id: uuid.UUID | None
    created_at: datetime
    status: str = Field(description="pending, sent or dead")
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, d: webhooks.Delivery) -> DeliveryOut:
        return cls(id=d.id, webhook_id=d.webhook_id, event_type=d.event_type, application_id=d.application_id,
                   created_at=d.created_at, status=d.status, attempts=d.attempts, last_error=d.last_error,
                   sent_at=d.sent_at, next_attempt_at=d.next_attempt_at)


@router.get("/teams/{team}/webhooks", response_model=list[WebhookOut], operation_id="listWebhooks",
            responses=problems(401, 403, 404, 422))
def list_webhooks(ctx: WriterContextDep, team: TeamRefP) -> list[WebhookOut]:
    """The team's webhooks (never their secrets)."""
    return [WebhookOut.of(h) for h in webhooks.for_team(ctx, teams.resolve_team(ctx, team).id)]


@router.post("/teams/{team}/webhooks", status_code=201, response_model=WebhookCreated, operation_id="createWebhook",
             description="Register a URL of the team's own system. " + SIGNING,
             responses=problems(401, 403, 404, 409, 422, body=True))
def create_webhook(ctx: WriterContextDep, team: TeamRefP, body: WebhookIn, settings: SettingsDep, request: Request,
                   response: Response) -> WebhookCreated:
    row = teams.resolve_team(ctx, team)
    hook, secret = webhooks.register(ctx, row.id, body.url, body.events, allow_http=settings.webhook_allow_http)
    response.headers["Location"] = http.absolute(request, f"/api/v1/teams/{row.id}/webhooks/{hook.id}/deliveries")
    response.headers["Cache-Control"] = "no-store"
    return WebhookCreated(**WebhookOut.of(hook).model_dump(), secret=secret)


@router.patch("/teams/{team}/webhooks/{webhook_id}", response_model=WebhookOut, operation_id="updateWebhook",
              responses=problems(401, 403, 404, 422, body=True))
def update_webhook(ctx: WriterContextDep, team: TeamRefP, webhook_id: WebhookP, body: WebhookPatch) -> WebhookOut:
    """Disable or enable a webhook."""
    return WebhookOut.of(webhooks.set_active(ctx, teams.resolve_team(ctx, team).id, webhook_id, body.active))


@router.delete("/teams/{team}/webhooks/{webhook_id}", status_code=204, operation_id="deleteWebhook",
               responses={**problems(401, 403, 404, 422), 204: {"description": "Deleted"}})
def delete_webhook(ctx: WriterContextDep, team: TeamRefP, webhook_id: WebhookP) -> Response:
    webhooks.delete(ctx, teams.resolve_team(ctx, team).id, webhook_id)
    return Response(status_code=204)


@router.post("/teams/{team}/webhooks/{webhook_id}/secret", response_model=SecretOut,
             operation_id="rotateWebhookSecret", responses=problems(401, 403, 404, 422))
def rotate_secret(ctx: WriterContextDep, team: TeamRefP, webhook_id: WebhookP, response: Response) -> SecretOut:
    """Give the webhook a new secret (shown once); deliveries sent from now on are signed with it."""
    response.headers["Cache-Control"] = "no-store"
    return SecretOut(secret=webhooks.rotate_secret(ctx, teams.resolve_team(ctx, team).id, webhook_id))


@router.get("/teams/{team}/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut],
            operation_id="listWebhookDeliveries", responses=problems(401, 403, 404, 422))
def list_deliveries(ctx: WriterContextDep, team: TeamRefP, webhook_id: WebhookP) -> list[DeliveryOut]:
    """The webhook's latest deliveries (newest first): status, attempts, last error."""
    team_id = teams.resolve_team(ctx, team).id
    webhooks.get(ctx, team_id, webhook_id)
    return [DeliveryOut.of(d) for d in webhooks.deliveries(ctx, team_id, webhook_id)]


@router.post("/teams/{team}/webhook-deliveries/{delivery_id}/retry", response_model=DeliveryOut,
             operation_id="retryWebhookDelivery", responses=problems(401, 403, 404, 409, 422))
def retry_delivery(ctx: WriterContextDep, team: TeamRefP,
                   delivery_id: Annotated[uuid.UUID, Path(description="the delivery's id")]) -> DeliveryOut:
    """Send a dead delivery again (its attempts start from zero); 409 for one that is not dead."""
    return DeliveryOut.of(webhooks.send_again(ctx, teams.resolve_team(ctx, team).id, delivery_id))
