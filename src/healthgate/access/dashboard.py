"""The custodian dashboard's figures: the queue with ages in working days and flags, time to decision over the
last 12 months (median, 90th percentile, by month, as a histogram), counts by status, and CSV exports. Reads
only; a team's application reviewers (``application:review``) may see it."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from healthgate.access import clocks, standards
from healthgate.access import lifecycle as lc
from healthgate.access import service as access
from healthgate.access.models import Application, ApplicationPart
from healthgate.clock import utc
from healthgate.context import Context
from healthgate.identity.permissions import Permission, require

# Histogram bins of working days to decision: (label, lowest, highest) inclusive; None: no upper bound.
BINS: tuple[tuple[str, int, int | None], ...] = (
    ("0-5", 0, 5), ("6-10", 6, 10), ("11-20", 11, 20), ("21-40", 21, 40), ("41-60", 41, 60),
    ("61-90", 61, 90), ("over 90", 91, None))
STATE_LABELS: dict[str, str] = {
    "submitted": "Submitted", "returned": "Returned to applicant", "in_review": "In review",
    "approved": "Approved", "approved_with_conditions": "Approved with conditions", "rejected": "Rejected",
    "withdrawn": "Withdrawn", "closed": "Closed"}


@dataclass(frozen=True)
class QueueRow:
    application_id: uuid.UUID
    reference: str
    title: str
    state: str
    submitted_at: datetime
    clock: clocks.PartClock
    phase: str | None
    phase_due: date | None
    reviewers: int


@dataclass(frozen=True)
class Month:
    month: str  # YYYY-MM
    decisions: int
    median_days: float | None


@dataclass(frozen=True)
class Dashboard:
    team_id: uuid.UUID
    nation: str
    now: datetime
    standards: dict[str, standards.Standard]
    queue: list[QueueRow]  # open parts, oldest submission first
    counts: dict[str, int]  # part state -> number (every state, zeros too)
    time_to_decision: clocks.TimeToDecision
    decided: list[clocks.Decided]  # the last 12 months' decisions
    months: list[Month]  # the last 12 months, oldest first
    histogram: list[tuple[str, int]]
    flags: dict[str, int]  # due_soon / overdue / paused -> number of open parts

    @property
    def histogram_max(self) -> int:
        return max((n for _, n in self.histogram), default=0)

    @property
    def months_max(self) -> int:
        return max((m.decisions for m in self.months), default=0)


def _months(now: datetime, decided: Sequence[clocks.Decided]) -> list[Month]:
    keys: list[str] = []
    y, m = now.year, now.month
    for _ in range(12):
        keys.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    keys.reverse()
    by: dict[str, list[float]] = {k: [] for k in keys}
    for d in decided:
        k = clocks.london_date(d.decided_at).strftime("%Y-%m")
        if k in by:
            by[k].append(float(d.working_days))
    return [Month(k, len(v), round(clocks.percentile(v, 50), 1) if v else None) for k, v in by.items()]


def _histogram(days: Iterable[int]) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for n in days:
        for label, low, high in BINS:
            if n >= low and (high is None or n <= high):
                counts[label] += 1
                break
    return [(label, counts[label]) for label, _, _ in BINS]


def queue(ctx: Context, team_id: uuid.UUID) -> list[QueueRow]:
    """The team's open parts (submitted, returned, in review) with their clocks, oldest submission first."""
    rows = access.queue(ctx, team_id, [s.value for s in lc.OPEN])
    clock_of = clocks.team_clocks(ctx, team_id, [a.id for a, _ in rows])
    out = []
    for app, part in rows:
        c = clock_of.get(app.id)
        if c is None:
            continue
        out.append(QueueRow(app.id, app.reference, app.title, part.state, utc(part.submitted_at), c, part.phase,
                            part.phase_due, len(part.reviewers or [])))
    return out


def dashboard(ctx: Context, team_id: uuid.UUID) -> Dashboard:
    require(ctx.actor, Permission.APPLICATION_REVIEW, on=team_id)
    now = ctx.now()
    rows = queue(ctx, team_id)
    counts = {s.value: 0 for s in lc.PartState}
    for state, n in ctx.session.execute(select(ApplicationPart.state, func.count()).where(
            ApplicationPart.team_id == team_id).group_by(ApplicationPart.state)).all():
        counts[state] = n
    since = clocks.twelve_months_before(now)
    decided = clocks.decisions(ctx, team_id, since)
    ttd = clocks.summarise(decided, since)
    flags = {"due_soon": sum(r.clock.flag == "due_soon" for r in rows),
             "overdue": sum(r.clock.flag == "overdue" for r in rows),
             "paused": sum(r.clock.paused for r in rows)}
    return Dashboard(team_id=team_id, nation=standards.nation(ctx, team_id), now=now,
                     standards=standards.standards(ctx), queue=rows, counts=counts, time_to_decision=ttd,
                     decided=decided, months=_months(now, decided),
                     histogram=_histogram(d.working_days for d in decided), flags=flags)


# -- CSV ------------------------------------------------------------------------------------------------------

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or carriage return) gets a
    leading apostrophe (OWASP's advice against CSV/formula injection)."""
    text = "" if value is None else (value.isoformat() if isinstance(value, date | datetime) else str(value))
    return "'" + text if text.startswith(_FORMULA) else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


def queue_csv(ctx: Context, team_id: uuid.UUID) -> str:
    require(ctx.actor, Permission.APPLICATION_REVIEW, on=team_id)
    return _csv(["reference", "title", "state", "submitted_at", "working_days", "paused", "paused_days", "step",
                 "standard_working_days", "due_on", "flag", "phase", "phase_due", "reviewers"],
                [(r.reference, r.title, r.state, utc(r.submitted_at), r.clock.working_days,
                  "yes" if r.clock.paused else "no", r.clock.paused_days, r.clock.step, r.clock.standard,
                  r.clock.due_on, r.clock.flag, r.phase, r.phase_due, r.reviewers) for r in queue(ctx, team_id)])


def decisions_csv(ctx: Context, team_id: uuid.UUID) -> str:
    """The team's decisions over the last 12 months, oldest first."""
    require(ctx.actor, Permission.APPLICATION_REVIEW, on=team_id)
    decided = clocks.decisions(ctx, team_id, clocks.twelve_months_before(ctx.now()))
    apps = {a.id: a for a in ctx.session.scalars(select(Application).where(
        Application.id.in_([d.application_id for d in decided])))} if decided else {}
    return _csv(["reference", "title", "decision", "submitted_at", "decided_at", "working_days_to_decision",
                 "first_response_working_days", "paused_working_days"],
                [(apps[d.application_id].reference, apps[d.application_id].title, d.decision, d.submitted_at,
                  d.decided_at, d.working_days, d.first_response_days, d.paused_days) for d in decided])
