"""A dataset's terms of access as the public sees them: cost and declared lead time (from its metadata) and
its custodian's measured time to decision over the last 12 months (from this module's own data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from healthgate.access import clocks
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.context import Context

MIN_DECISIONS = clocks.MIN_DECISIONS  # below this, "not enough requests yet"


@dataclass(frozen=True)
class Terms:
    cost: str | None  # as the metadata states it
    lead_time: str | None  # the declared delivery lead time
    decisions: int  # decisions in the last 12 months
    median_days: float | None  # working days, None below MIN_DECISIONS
    p90_days: float | None

    @property
    def cost_is_link(self) -> bool:
        cost = self.cost or ""
        return cost.startswith(("https://", "http://")) and " " not in cost

    @property
    def enough(self) -> bool:
        return self.median_days is not None


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = "; ".join(str(v).strip() for v in value if isinstance(v, str) and v.strip())
    return value.strip() if isinstance(value, str) and value.strip() else None


def declared(document: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(cost, lead time) from an HDR UK 4.0.0 document's ``accessibility.access``."""
    access = ((document or {}).get("accessibility") or {}).get("access") or {}
    if not isinstance(access, dict):
        return None, None
    return _text(access.get("accessRequestCost")), _text(access.get("deliveryLeadTime"))


def terms_of_access(ctx: Context, dataset: Dataset) -> Terms:
    """The terms of access of a dataset: what its latest published version declares, and how long its
    custodian team has actually taken to decide (median and 90th percentile of working days from submission to
    decision, pauses excluded, over the 12 months before ``ctx.now()``; None below MIN_DECISIONS)."""
    document = None
    if dataset.latest_version:
        document = ctx.session.scalar(select(DatasetVersion.document).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.number == dataset.latest_version))
    cost, lead_time = declared(document)
    measured = clocks.time_to_decision(ctx, dataset.team_id)
    return Terms(cost=cost, lead_time=lead_time, decisions=measured.decisions, median_days=measured.median_days,
                 p90_days=measured.p90_days)
