"""JSON API for clocks: the alliance's standards, a team's dashboard figures. No SQL here: ``access.standards``
and ``access.dashboard`` check permissions and compute."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from healthgate.access import dashboard as figures
from healthgate.access import standards
from healthgate.identity import service as identity
from healthgate.web.deps import WriterContextDep, get_actor
from healthgate.web.openapi import problems

router = APIRouter(prefix="/api/v1/access", tags=["access"], dependencies=[Depends(get_actor)])
Step = enum.StrEnum("Step", {s: s for s in standards.STEPS})  # type: ignore[misc]
TeamRefP = Annotated[str, Path(min_length=1, max_length=300, description="the team's id or slug")]


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class StandardIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    working_days: StrictInt = Field(ge=1, le=standards.MAX_WORKING_DAYS,
                              description="the standard: working days from submission, pauses excluded")
    due_soon_days: StrictInt = Field(ge=0, le=standards.MAX_WORKING_DAYS,
                               description="flag as due soon once this few working days are left (fewer than "
                                           "working_days)")


class StandardOut(Out):
    step: str = Field(description="first_response | decision")
    label: str
    working_days: int
    due_soon_days: int

    @classmethod
    def of(cls, s: standards.Standard) -> StandardOut:
        return cls(**s.as_dict())


class StandardsOut(Out):
    standards: list[StandardOut]


class QueueItemOut(Out):
    application_id: uuid.UUID
    reference: str
    title: str
    state: str
    submitted_at: datetime
    working_days: int = Field(description="working days so far, pauses excluded")
    paused: bool = Field(description="back with the applicant: the clock is paused")
    paused_days: int
    step: str = Field(description="the standard it is measured against now: first_response | decision")
    standard_working_days: int
    due_on: date | None
    flag: str = Field(description="'' | due_soon | overdue")
    phase: str | None
    phase_due: date | None


class MonthOut(Out):
    month: str = Field(description="YYYY-MM")
    decisions: int
    median_days: float | None


class BinOut(Out):
    working_days: str
    decisions: int


class DashboardOut(Out):
    team_id: uuid.UUID
    nation: str = Field(description="ENG | WLS | SCT | NIR: whose bank holidays the clocks skip")
    as_of: datetime
    decisions_last_12_months: int
    median_days_to_decision: float | None = Field(description="working days; null below 5 decisions")
    p90_days_to_decision: float | None = Field(description="working days; null below 5 decisions")
    counts: dict[str, int] = Field(description="parts by state")
    flags: dict[str, int] = Field(description="open parts due soon, overdue and paused")
    standards: list[StandardOut]
    queue: list[QueueItemOut]
    months: list[MonthOut]
    histogram: list[BinOut]


@router.get("/standards", response_model=StandardsOut, operation_id="getClockStandards",
            responses=problems(401))
def get_standards(ctx: WriterContextDep) -> StandardsOut:
    """The alliance's waiting-time standards, per step, in working days."""
    return StandardsOut(standards=[StandardOut.of(s) for s in standards.standards(ctx).values()])


@router.put("/standards/{step}", response_model=StandardOut, operation_id="setClockStandard",
            responses=problems(401, 403, 422, body=True))
def put_standard(ctx: WriterContextDep, step: Annotated[Step, Path(description="the step")],
                 body: StandardIn) -> StandardOut:
    """Change one step's standard (alliance admin); audited."""
    return StandardOut.of(standards.set_standard(ctx, step.value, body.working_days, body.due_soon_days))


@router.get("/teams/{team}/dashboard", response_model=DashboardOut, operation_id="getAccessDashboard",
            responses=problems(401, 403, 404, 422))
def get_dashboard(ctx: WriterContextDep, team: TeamRefP) -> DashboardOut:
    """A custodian team's figures: open requests with their clocks, counts by state, time to decision over the
    last 12 months (to the team's reviewers and access managers)."""
    board = figures.dashboard(ctx, identity.resolve_team(ctx, team).id)
    ttd = board.time_to_decision
    return DashboardOut(
        team_id=board.team_id, nation=board.nation, as_of=board.now, decisions_last_12_months=ttd.decisions,
        median_days_to_decision=ttd.median_days, p90_days_to_decision=ttd.p90_days, counts=board.counts,
        flags=board.flags, standards=[StandardOut.of(s) for s in board.standards.values()],
        queue=[QueueItemOut(application_id=r.application_id, reference=r.reference, title=r.title, state=r.state,
                            submitted_at=r.submitted_at, working_days=r.clock.working_days, paused=r.clock.paused,
                            paused_days=r.clock.paused_days, step=r.clock.step,
                            standard_working_days=r.clock.standard, due_on=r.clock.due_on, flag=r.clock.flag,
                            phase=r.phase, phase_due=r.phase_due) for r in board.queue],
        months=[MonthOut(month=m.month, decisions=m.decisions, median_days=m.median_days) for m in board.months],
        histogram=[BinOut(working_days=label, decisions=n) for label, n in board.histogram])
