"""Who hears of what: emails and signed webhooks, queued in the outbox in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from healthgate.access.lifecycle import State
from healthgate.access.models import Application, Message
from healthgate.context import Context


def application_event(ctx: Context, row: Application, state: State, event_type: str, data: dict[str, Any],
                      team_id: uuid.UUID | None) -> None:
    """Called once for each event appended to an application's log, after the projection is updated."""


def message_posted(ctx: Context, message: Message) -> None:
    """Called once for each message or note posted (notes are never sent outside their side)."""


def enquiry_opened(ctx: Context, enquiry_id: uuid.UUID, team_ids: list[uuid.UUID]) -> None:
    """Called when an enquiry is opened, with the custodian teams it asks."""
