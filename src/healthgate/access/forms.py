"""Forms: the question bank, custodian templates and the answers an application gives.

The service calls three functions of this module; everything else about forms lives behind them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from healthgate.access.lifecycle import State
from healthgate.context import Context
from healthgate.errors import FieldError


def pin_templates(ctx: Context, team_ids: Iterable[uuid.UUID]) -> dict[str, str]:
    """The template each team uses now (team id -> template id), for an application to keep."""
    return {}


def clean_answers(ctx: Context, state: State, answers: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Check answers to save against the application's templates: (answers to store, ids to clear).
    Raises ``Invalid`` naming each bad answer by question."""
    return dict(answers), []


def missing_answers(ctx: Context, state: State) -> list[FieldError]:
    """Every required answer the application lacks, by question (checked on submission)."""
    return []
