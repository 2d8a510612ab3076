"""The GA4GH DUO data-use check: does the application's stated purpose fit each dataset's conditions?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from healthgate.access.lifecycle import State
from healthgate.context import Context


def evaluate(ctx: Context, state: State) -> list[dict[str, Any]]:
    """Advice per dataset: ``{"dataset_id", "verdict": APPROVE|DENY|ABSTAIN, "reason", "conditions"}``."""
    return []


def clean_purpose(purpose: Mapping[str, Any]) -> dict[str, Any]:
    """The application's stated purpose, checked (DUO purpose terms, diseases, commercial or not); raises
    ``Invalid`` naming the field."""
    return dict(purpose)
