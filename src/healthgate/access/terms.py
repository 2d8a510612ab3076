"""A dataset's terms of access as the public sees them: cost and declared lead time (from its metadata) and
its custodian's measured time to decision over the last 12 months (from this module's own data)."""

from __future__ import annotations

from dataclasses import dataclass

from healthgate.catalogue.models import Dataset
from healthgate.context import Context

MIN_DECISIONS = 5  # below this, "not enough requests yet"


@dataclass(frozen=True)
class Terms:
    cost: str | None  # as the metadata states it
    lead_time: str | None  # the declared delivery lead time
    decisions: int  # decisions in the last 12 months
    median_days: float | None  # working days, None below MIN_DECISIONS
    p90_days: float | None


def terms_of_access(ctx: Context, dataset: Dataset) -> Terms:
    return Terms(cost=None, lead_time=None, decisions=0, median_days=None, p90_days=None)
