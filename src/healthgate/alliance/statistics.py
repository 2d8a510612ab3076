"""The alliance's transparency statistics, public, as of ``ctx.now()``: how each figure is computed is in
docs/alliance.md. Aggregates only; nothing here names an applicant or an unpublished register entry.

- **requests**: per calendar quarter (London dates, the last ``QUARTERS`` quarters), the data access requests
  received (each custodian's part of an application counts once, on the day it was first submitted to that
  custodian) and approved (an ``approved`` or ``approved_with_conditions`` decision event of a part, on its
  day); and the requests received by custodian and quarter.
- **waiting**: per custodian team, the median working days from submission to decision of its decisions
  over the last 12 months (the access clocks' rule: pauses with the applicant excluded), shown only from
  ``MIN_DECISIONS`` decisions up, like the custodians' own dashboard.
- **register**: published data use register entries, by organisation sector and access type.
- **quality**: per custodian team, its public datasets, the mean metadata quality score of their latest
  versions and how many hold each medallion.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import func, select

from healthgate.access import clocks
from healthgate.access.dashboard import cell
from healthgate.access.models import ApplicationEvent, ApplicationPart
from healthgate.alliance.obligations import Quarter, next_quarter, quarter_label, quarter_of, quarter_start
from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion
from healthgate.catalogue.quality import MEDALLIONS, NOT_RATED
from healthgate.context import Context
from healthgate.errors import NotFound
from healthgate.identity.models import Team
from healthgate.register import activity
from healthgate.register.models import RegisterEntry

QUARTERS = 8
MIN_DECISIONS = clocks.MIN_DECISIONS
APPROVALS = ("approved", "approved_with_conditions")
NOT_STATED = "Not stated"
MEDALLION_NAMES = tuple(name for _, name in MEDALLIONS) + (NOT_RATED,)


@dataclass(frozen=True)
class QuarterRow:
    quarter: str  # "2026 Q1"
    received: int
    approved: int


@dataclass(frozen=True)
class CustodianQuarter:
    custodian: str
    team_id: uuid.UUID
    counts: tuple[int, ...]  # one per quarter, in ``Statistics.quarters`` order

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Waiting:
    custodian: str
    team_id: uuid.UUID
    decisions: int
    median_days: float | None  # None below MIN_DECISIONS


@dataclass(frozen=True)
class RegisterRow:
    sector: str
    by_access_type: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_access_type.values())


@dataclass(frozen=True)
class Quality:
    custodian: str
    team_id: uuid.UUID
    datasets: int
    mean_score: float
    medallions: dict[str, int]


@dataclass(frozen=True)
class Statistics:
    as_of: datetime
    quarters: list[str]
    requests: list[QuarterRow]
    requests_by_custodian: list[CustodianQuarter]
    waiting: list[Waiting]
    access_types: list[str]
    register: list[RegisterRow]
    quality: list[Quality]

    @property
    def requests_max(self) -> int:
        return max((max(r.received, r.approved) for r in self.requests), default=0)

    @property
    def register_total(self) -> int:
        return sum(r.total for r in self.register)


def _quarters(today: date) -> list[Quarter]:
    last = quarter_of(today)
    return [next_quarter(last, -i) for i in range(QUARTERS - 1, -1, -1)]


def _start(q: Quarter) -> datetime:
    """A bound on what to read for quarters from ``q`` on: rows are put in quarters by their London date, so
    this starts a day early (UTC midnight of the day before the quarter)."""
    d = quarter_start(q)
    return datetime.combine(date.fromordinal(d.toordinal() - 1), time(), tzinfo=UTC)


def _team_names(ctx: Context, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {t.id: t.name for t in ctx.session.scalars(select(Team).where(Team.id.in_(wanted)))}


def _requests(ctx: Context, quarters: list[Quarter]) -> tuple[list[QuarterRow], list[CustodianQuarter]]:
    index = {q: i for i, q in enumerate(quarters)}
    since = _start(quarters[0])
    received = [0] * len(quarters)
    approved = [0] * len(quarters)
    by_team: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0] * len(quarters))

    def counted(at: datetime) -> Quarter | None:
        q = quarter_of(clocks.london_date(at))
        return q if q in index else None

    for (team_id, q), apps in activity.received_by_quarter(ctx.session, counted, since=since).items():
        received[index[q]] += len(apps)
        by_team[team_id][index[q]] += len(apps)
    seen: set[tuple[uuid.UUID, uuid.UUID | None]] = set()
    for app_id, part_team, at in ctx.session.execute(
            select(ApplicationEvent.application_id, ApplicationEvent.team_id, ApplicationEvent.at)
            .where(ApplicationEvent.type.in_(APPROVALS), ApplicationEvent.at >= since)
            .order_by(ApplicationEvent.at)):
        if (app_id, part_team) in seen:  # a part approved once (an amendment is an application of its own)
            continue
        seen.add((app_id, part_team))
        i = index.get(quarter_of(clocks.london_date(at)))
        if i is not None:
            approved[i] += 1
    names = _team_names(ctx, by_team)
    rows = [QuarterRow(quarter_label(q), received[i], approved[i]) for q, i in index.items()]
    custodians = sorted((CustodianQuarter(names.get(t, str(t)), t, tuple(c)) for t, c in by_team.items()),
                        key=lambda c: (-c.total, c.custodian.casefold()))
    return rows, custodians


def _waiting(ctx: Context) -> list[Waiting]:
    now = ctx.now()
    since = clocks.twelve_months_before(now)
    teams = list(ctx.session.scalars(select(ApplicationPart.team_id).where(
        ApplicationPart.decided_at.is_not(None), ApplicationPart.decided_at >= since).distinct()))
    names = _team_names(ctx, teams)
    out = []
    for team_id in teams:
        decided = clocks.decisions(ctx, team_id, since, now)
        if not decided:
            continue
        days = [float(d.working_days) for d in decided]
        median = round(clocks.percentile(days, 50), 1) if len(days) >= MIN_DECISIONS else None
        out.append(Waiting(names.get(team_id, str(team_id)), team_id, len(days), median))
    return sorted(out, key=lambda w: (w.median_days is None, w.median_days or 0.0, w.custodian.casefold()))


def _register(ctx: Context) -> tuple[list[str], list[RegisterRow]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    types: set[str] = set()
    for sector, access_type, n in ctx.session.execute(
            select(RegisterEntry.organisation_sector, RegisterEntry.access_type, func.count())
            .where(RegisterEntry.status == "published")
            .group_by(RegisterEntry.organisation_sector, RegisterEntry.access_type)):
        kind = access_type or NOT_STATED
        counts[sector or NOT_STATED][kind] += n
        types.add(kind)
    access_types = sorted(types, key=lambda t: (t == NOT_STATED, t.casefold()))
    rows = [RegisterRow(s, {t: c.get(t, 0) for t in access_types}) for s, c in counts.items()]
    return access_types, sorted(rows, key=lambda r: (-r.total, r.sector.casefold()))


def _quality(ctx: Context) -> list[Quality]:
    per: dict[uuid.UUID, list[tuple[float, str]]] = defaultdict(list)
    for team_id, score, medallion in ctx.session.execute(
            select(Dataset.team_id, DatasetVersion.quality_score, DatasetVersion.medallion)
            .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
            .where(Dataset.status == DatasetStatus.ACTIVE, DatasetVersion.number == Dataset.latest_version)):
        per[team_id].append((float(score), medallion))
    names = _team_names(ctx, per)
    out = []
    for team_id, items in per.items():
        medals = Counter(m if m in MEDALLION_NAMES else NOT_RATED for _, m in items)
        out.append(Quality(names.get(team_id, str(team_id)), team_id, len(items),
                           round(sum(s for s, _ in items) / len(items), 1),
                           {m: medals.get(m, 0) for m in MEDALLION_NAMES}))
    return sorted(out, key=lambda q: (-q.mean_score, -q.datasets, q.custodian.casefold()))


def compute(ctx: Context) -> Statistics:
    """Every figure (public: no permission needed)."""
    now = ctx.now()
    quarters = _quarters(clocks.london_date(now))
    requests, by_custodian = _requests(ctx, quarters)
    access_types, register = _register(ctx)
    return Statistics(as_of=now, quarters=[quarter_label(q) for q in quarters], requests=requests,
                      requests_by_custodian=by_custodian, waiting=_waiting(ctx), access_types=access_types,
                      register=register, quality=_quality(ctx))


# ---- CSV ------------------------------------------------------------------------------------------------

FIGURES: dict[str, str] = {
    "requests": "Access requests received and approved per quarter",
    "requests-by-custodian": "Access requests received by custodian and quarter",
    "waiting-times": "Median working days to a decision, by custodian (last 12 months)",
    "register": "Published data use register entries by sector and access type",
    "quality": "Catalogue metadata quality by custodian",
}


def _csv(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    writer.writerows([cell(v) for v in row] for row in rows)
    return buf.getvalue()


def figure_csv(stats: Statistics, figure: str) -> str:
    """One figure's numbers as CSV (cells that a spreadsheet would run are neutralised)."""
    if figure == "requests":
        return _csv(("quarter", "received", "approved"), ((r.quarter, r.received, r.approved) for r in stats.requests))
    if figure == "requests-by-custodian":
        return _csv(("custodian", *stats.quarters, "total"),
                    ((c.custodian, *c.counts, c.total) for c in stats.requests_by_custodian))
    if figure == "waiting-times":
        return _csv(("custodian", "decisions_last_12_months", "median_working_days"),
                    ((w.custodian, w.decisions, w.median_days) for w in stats.waiting))
    if figure == "register":
        return _csv(("sector", *stats.access_types, "total"),
                    ((r.sector, *r.by_access_type.values(), r.total) for r in stats.register))
    if figure == "quality":
        return _csv(("custodian", "public_datasets", "mean_quality_score", *MEDALLION_NAMES),
                    ((q.custodian, q.datasets, q.mean_score, *q.medallions.values()) for q in stats.quality))
    raise NotFound(f"no figure {figure[:40]!r}")
