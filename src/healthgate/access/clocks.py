"""Waiting-time clocks in working days (weekends and the custodian nation's bank holidays excluded), paused
while a part is back with the applicant, against the alliance's standard per step.

The counting rule (docs/access-clocks.md):

- Every instant is turned into its calendar date in Europe/London (a decision at 23:30 UTC in summer falls on
  the next London day).
- A working day is a Monday to Friday that is not a bank holiday of the team's UK nation (the ``holidays``
  library's ``GB`` calendar, subdivision ENG, WLS, SCT or NIR).
- The working days from instant ``a`` to instant ``b`` are the working days ``d`` with
  ``date(a) < d <= date(b)``: the day the clock starts does not count, the day it stops does. Submitted on
  Friday at 16:00 and decided on Tuesday: Monday and Tuesday, 2 working days; decided the same day: 0.
- A part's clock starts at submission, stops at its decision (or when it is closed or withdrawn) and is
  paused from each return to the applicant until the resubmission: the working days of each pause, counted
  the same way, are taken off. Because the rule is additive, the running intervals' counts add up exactly.
- Steps: ``first_response`` (from submission to the first of: returned, reviewers assigned, decided, closed)
  and ``decision`` (from submission to the decision, pauses excluded).
- A step is ``overdue`` when its working days exceed the standard (the standard's last day is on time) and
  ``due_soon`` while it is open with ``due_soon_days`` or fewer working days left.
"""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import case, or_, select

from healthgate.access import standards as std
from healthgate.access.models import ApplicationEvent, ApplicationPart
from healthgate.clock import utc
from healthgate.context import Context

LONDON = ZoneInfo("Europe/London")
DECISION_EVENTS = frozenset({"approved", "approved_with_conditions", "rejected"})
RESPONSE_EVENTS = frozenset({"returned", "reviewers_assigned", "closed", *DECISION_EVENTS})
STOP_EVENTS = frozenset({"closed", "withdrawn", *DECISION_EVENTS})
# the events a part's clock reads: the part's own, and the application-wide ones that start, restart or end it
_WHOLE_EVENTS = ("submitted", "resubmitted", "withdrawn")


# -- calendar -------------------------------------------------------------------------------------------------


def london_date(at: datetime) -> date:
    return utc(at).astimezone(LONDON).date()


@lru_cache(maxsize=64)
def _holidays(nation: str, year: int) -> tuple[date, ...]:
    """The bank holidays of ``nation`` in ``year`` that fall on a weekday (sorted)."""
    days = holidays.country_holidays("GB", subdiv=nation, years=year)
    return tuple(sorted(d for d in days if d.weekday() < 5))


def bank_holidays(nation: str, start: date, end: date) -> list[date]:
    """Weekday bank holidays d with start <= d <= end."""
    out: list[date] = []
    for year in range(start.year, end.year + 1):
        out.extend(d for d in _holidays(nation, year) if start <= d <= end)
    return out


def is_working_day(d: date, nation: str = std.DEFAULT_NATION) -> bool:
    if d.weekday() >= 5:
        return False
    days = _holidays(nation, d.year)
    i = bisect.bisect_left(days, d)
    return not (i < len(days) and days[i] == d)


def _weekdays_through(d: date) -> int:
    """Mondays to Fridays from a fixed Monday (0001-01-01) up to and including ``d``."""
    n = d.toordinal()  # ordinal 1 is a Monday
    weeks, rest = divmod(n, 7)
    return weeks * 5 + min(rest, 5)


def working_days(start: date, end: date, nation: str = std.DEFAULT_NATION) -> int:
    """Working days d with start < d <= end (0 when end <= start)."""
    if end <= start:
        return 0
    weekdays = _weekdays_through(end) - _weekdays_through(start)
    return weekdays - len(bank_holidays(nation, start + timedelta(days=1), end))


def between(a: datetime, b: datetime, nation: str = std.DEFAULT_NATION) -> int:
    """Working days from instant ``a`` to instant ``b`` by London dates (the counting rule above)."""
    return working_days(london_date(a), london_date(b), nation)


def add_working_days(d: date, n: int, nation: str = std.DEFAULT_NATION) -> date:
    """The date on which a clock that stands at 0 on ``d`` reaches ``n``: the n-th working day after ``d``
    (``d`` itself for 0). For n < 0, the latest working day ``x`` before ``d`` with
    ``working_days(x, d) == -n``."""
    step = 1 if n > 0 else -1
    left = abs(n)
    if n < 0:  # count backwards, ``d`` included, then the day before the last one counted
        x = d
        while True:
            if is_working_day(x, nation):
                left -= 1
                if left == 0:
                    break
            x -= timedelta(days=1)
        x -= timedelta(days=1)
        while not is_working_day(x, nation):
            x -= timedelta(days=1)
        return x
    x = d
    while left:
        x += timedelta(days=step)
        if is_working_day(x, nation):
            left -= 1
    return x


# -- measuring a part -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartClock:
    working_days: int  # so far (open) or to decision (decided), pauses excluded
    paused: bool  # back with the applicant now
    step: str  # the step it is measured against: first_response | decision
    due_on: date | None  # when the standard for that step falls due
    flag: str  # "" | "due_soon" | "overdue"
    # more detail, for the dashboard and the terms of access
    submitted_at: datetime | None = None
    first_response_days: int | None = None  # None until the first response
    decided_at: datetime | None = None  # the decision (approved, with conditions, rejected)
    decision: str | None = None  # approved | approved_with_conditions | rejected
    stopped: bool = False  # decided, closed or withdrawn: the clock no longer runs
    paused_days: int = 0  # working days spent back with the applicant
    standard: int = 0  # the standard's working days for ``step``


@dataclass(frozen=True)
class _Ev:
    type: str
    at: datetime
    team_id: uuid.UUID | None
    teams: tuple[str, ...] = ()  # resubmitted: the parts it sends back


@dataclass
class _Run:
    """Where a part's clock stands after its events, before "now" is taken into account."""

    submitted_at: datetime | None = None
    running_since: datetime | None = None  # None while paused or stopped
    paused_since: datetime | None = None
    days: int = 0  # working days of finished running intervals
    paused_days: int = 0
    first_response_at: datetime | None = None
    decided_at: datetime | None = None
    decision: str | None = None
    stopped_at: datetime | None = None
    intervals: list[tuple[datetime, datetime]] = field(default_factory=list)


def _run(events: Iterable[_Ev], team_id: uuid.UUID, nation: str) -> _Run:
    r = _Run()
    key = str(team_id)
    for e in events:
        mine = e.team_id == team_id
        if r.stopped_at is not None:
            break
        if e.type == "submitted" and r.submitted_at is None:
            r.submitted_at = r.running_since = e.at
        elif r.submitted_at is None:
            continue
        elif e.type == "resubmitted" and key in e.teams and r.paused_since is not None:
            r.paused_days += between(r.paused_since, e.at, nation)
            r.paused_since, r.running_since = None, e.at
        elif mine and e.type in RESPONSE_EVENTS and r.first_response_at is None:
            r.first_response_at = e.at
        if mine and e.type == "returned" and r.running_since is not None:
            r.days += between(r.running_since, e.at, nation)
            r.running_since, r.paused_since = None, e.at
        if (mine and e.type in STOP_EVENTS) or e.type == "withdrawn":
            if r.running_since is not None:
                r.days += between(r.running_since, e.at, nation)
            elif r.paused_since is not None:
                r.paused_days += between(r.paused_since, e.at, nation)
            r.running_since = r.paused_since = None
            r.stopped_at = e.at
            if e.type in DECISION_EVENTS:
                r.decided_at, r.decision = e.at, e.type
    return r


def measure(events: Sequence[_Ev], team_id: uuid.UUID, nation: str, now: datetime,
            standards: dict[str, std.Standard]) -> PartClock | None:
    """A part's clock from its events (in log order), as of ``now``. None before submission."""
    r = _run(events, team_id, nation)
    if r.submitted_at is None:
        return None
    days = r.days + (between(r.running_since, now, nation) if r.running_since is not None else 0)
    paused_days = r.paused_days + (between(r.paused_since, now, nation) if r.paused_since is not None else 0)
    first = between(r.submitted_at, r.first_response_at, nation) if r.first_response_at is not None else None
    stopped = r.stopped_at is not None
    if first is None and not stopped:
        step, step_days = "first_response", days
    else:
        step, step_days = "decision", days
    standard = standards[step]
    left = standard.working_days - step_days
    flag = ""
    if left < 0 and (not stopped or r.decided_at is not None):
        flag = "overdue"
    elif not stopped and left <= standard.due_soon_days:
        flag = "due_soon"
    paused = r.paused_since is not None
    due_on = None if stopped or paused else add_working_days(london_date(now), left, nation)
    return PartClock(working_days=days, paused=paused, step=step, due_on=due_on, flag=flag,
                     submitted_at=r.submitted_at, first_response_days=first, decided_at=r.decided_at, decision=r.decision,
                     stopped=stopped, paused_days=paused_days, standard=standard.working_days)


def _events_for(ctx: Context, team_id: uuid.UUID, application_ids: Sequence[uuid.UUID] | None
                ) -> dict[uuid.UUID, list[_Ev]]:
    """The events that move ``team_id``'s clocks, grouped by application, in log order: one query of plain
    columns (the data only of resubmissions, which name the parts they send back)."""
    E = ApplicationEvent
    data = case((E.type == "resubmitted", E.data), else_=None)
    stmt = (select(E.application_id, E.type, E.at, E.team_id, data)
            .where(or_(E.team_id == team_id, E.type.in_(_WHOLE_EVENTS)))
            .order_by(E.application_id, E.seq))
    if application_ids is None:
        parts = select(ApplicationPart.application_id).where(ApplicationPart.team_id == team_id)
        stmt = stmt.where(E.application_id.in_(parts))
    else:
        stmt = stmt.where(E.application_id.in_(list(application_ids)))
    out: dict[uuid.UUID, list[_Ev]] = defaultdict(list)
    for app_id, type_, at, team, payload in ctx.session.execute(stmt):
        teams = tuple(str(t) for t in (payload or {}).get("teams", ())) if type_ == "resubmitted" else ()
        out[app_id].append(_Ev(type=type_, at=utc(at), team_id=team, teams=teams))
    return out


def team_clocks(ctx: Context, team_id: uuid.UUID, application_ids: Sequence[uuid.UUID] | None = None
                ) -> dict[uuid.UUID, PartClock]:
    """The clock of each of a team's parts (application id -> clock), all at once: the team's nation and the
    standards once, the events in one query. ``application_ids`` limits it to some applications. No
    permission check: callers show these only to who may see the parts (or as aggregates)."""
    if application_ids is not None and not application_ids:
        return {}
    nation = std.nation(ctx, team_id)
    standards = std.standards(ctx)
    now = ctx.now()
    out = {}
    for app_id, events in _events_for(ctx, team_id, application_ids).items():
        clock = measure(events, team_id, nation, now, standards)
        if clock is not None:
            out[app_id] = clock
    return out


def part_clock(ctx: Context, application_id: uuid.UUID, team_id: uuid.UUID) -> PartClock | None:
    """One part's clock as of ``ctx.now()`` (None before submission or for a team with no part)."""
    return team_clocks(ctx, team_id, [application_id]).get(application_id)


# -- time to decision over a period ---------------------------------------------------------------------------

MIN_DECISIONS = 5  # below this, a median and a 90th percentile would say more about luck than the team


def twelve_months_before(now: datetime) -> datetime:
    """The same instant twelve calendar months earlier (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - 1)
    except ValueError:
        return now.replace(year=now.year - 1, day=28)


@dataclass(frozen=True)
class Decided:
    application_id: uuid.UUID
    decided_at: datetime
    decision: str
    submitted_at: datetime
    working_days: int  # submission to decision, pauses excluded
    first_response_days: int | None
    paused_days: int


def decisions(ctx: Context, team_id: uuid.UUID, since: datetime, until: datetime | None = None) -> list[Decided]:
    """The team's parts decided at or after ``since`` (and before ``until``, by default now), oldest first."""
    until = until or ctx.now()
    ids = list(ctx.session.scalars(select(ApplicationPart.application_id).where(
        ApplicationPart.team_id == team_id, ApplicationPart.decided_at.is_not(None),
        ApplicationPart.decided_at >= since, ApplicationPart.decided_at <= until)))
    out = [Decided(app, c.decided_at, c.decision or "", c.submitted_at or c.decided_at, c.working_days,
                   c.first_response_days, c.paused_days)
           for app, c in team_clocks(ctx, team_id, ids).items() if c.decided_at is not None]
    return sorted(out, key=lambda d: (d.decided_at, str(d.application_id)))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between the closest ranks (numpy's default, the
    "inclusive" method of ``statistics.quantiles``): the median is percentile 50."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class TimeToDecision:
    decisions: int
    median_days: float | None  # None below MIN_DECISIONS
    p90_days: float | None
    since: datetime


def time_to_decision(ctx: Context, team_id: uuid.UUID) -> TimeToDecision:
    """The team's median and 90th-percentile working days to decision over the last 12 months."""
    since = twelve_months_before(ctx.now())
    return summarise(decisions(ctx, team_id, since), since)


def summarise(decided: Sequence[Decided], since: datetime) -> TimeToDecision:
    days = [float(d.working_days) for d in decided]
    if len(days) < MIN_DECISIONS:
        return TimeToDecision(len(days), None, None, since)
    return TimeToDecision(len(days), round(percentile(days, 50), 1), round(percentile(days, 90), 1), since)
