"""Waiting-time clocks in working days (weekends and the custodian nation's bank holidays excluded), paused
while a part is back with the applicant, against the alliance's standard per step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from healthgate.context import Context


@dataclass(frozen=True)
class PartClock:
    working_days: int  # so far (open) or to decision (decided), pauses excluded
    paused: bool  # back with the applicant now
    step: str  # the step it is measured against: first_response | decision
    due_on: date | None  # when the standard for that step falls due
    flag: str  # "" | "due_soon" | "overdue"


def part_clock(ctx: Context, application_id: uuid.UUID, team_id: uuid.UUID) -> PartClock | None:
    return None
