"""New data access requests received, in aggregate: what members promised to publish beside their register.

A request counts for a custodian when its part of an application is first submitted (a resubmission after
changes is the same request); an application asking three custodians is one request received by each, and one
application in the alliance's total. Approved counts the parts approved (with or without conditions) in the
quarter of the decision. Quarters are calendar quarters in UTC ("2026-Q1": January to March). Only counts are
shown: no title, applicant or reference, so no request is identifiable from them.

``requests_by_quarter`` is a read for anyone (the public API, the public page). ``received_by_quarter`` is the
one count of requests received, by custodian and quarter, that it and the alliance's statistics share.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthgate.access.models import ApplicationPart
from healthgate.errors import FieldError, Invalid
from healthgate.identity.models import Team

APPROVED_STATES = ("approved", "approved_with_conditions")
MAX_QUARTERS = 200  # fifty years
Q = TypeVar("Q", bound=Hashable)


def _index(quarter: str) -> int:
    year, q = quarter.split("-Q")
    return int(year) * 4 + int(q) - 1


def quarter_of(at: datetime | date) -> str:
    """"2026-Q1" for any moment of January to March 2026 (UTC)."""
    if isinstance(at, datetime):
        at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).date()
    return f"{at.year}-Q{(at.month - 1) // 3 + 1}"


def quarter_start(quarter: str) -> date:
    year, q = quarter.split("-Q")
    return date(int(year), 3 * (int(q) - 1) + 1, 1)


def quarters_between(first: str, last: str) -> list[str]:
    """Every quarter from ``first`` to ``last``, both included."""
    out, at = [], quarter_start(first)
    end = quarter_start(last)
    while at <= end:
        out.append(quarter_of(at))
        at = date(at.year + (at.month + 2) // 12, (at.month + 2) % 12 + 1, 1)
    return out


@dataclass(frozen=True)
class QuarterCount:
    quarter: str
    received: int  # parts first submitted in the quarter (for the whole alliance: applications)
    approved: int  # parts approved in the quarter


@dataclass(frozen=True)
class CustodianCounts:
    team_id: uuid.UUID
    slug: str
    name: str
    quarters: list[QuarterCount]  # every quarter of the range, zeros included, oldest first

    @property
    def received(self) -> int:
        return sum(q.received for q in self.quarters)


@dataclass(frozen=True)
class RequestCounts:
    quarters: list[str]  # the range shown, oldest first
    custodians: list[CustodianCounts] = field(default_factory=list)  # by name
    totals: list[QuarterCount] = field(default_factory=list)  # the alliance: distinct applications


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def received_by_quarter(session: Session, quarter: Callable[[datetime], Q | None], *,
                        team_id: uuid.UUID | None = None, since: datetime | None = None
                        ) -> dict[tuple[uuid.UUID, Q], set[uuid.UUID]]:
    """Requests received, by custodian and quarter: (team, quarter) -> the applications whose part for that team
    was first submitted in the quarter (one request each; a resubmission is the same request). ``quarter`` puts
    a moment of submission in its quarter, or None for a moment outside the quarters counted (each caller its
    own calendar: UTC quarters here, London dates in the alliance's statistics). ``since``: read only the parts
    submitted from then on. ``team_id``: one custodian only."""
    stmt = select(ApplicationPart.application_id, ApplicationPart.team_id, ApplicationPart.submitted_at)
    if team_id is not None:
        stmt = stmt.where(ApplicationPart.team_id == team_id)
    if since is not None:
        stmt = stmt.where(ApplicationPart.submitted_at >= since)
    out: dict[tuple[uuid.UUID, Q], set[uuid.UUID]] = defaultdict(set)
    for app_id, team, submitted_at in session.execute(stmt):
        q = quarter(submitted_at) if submitted_at is not None else None
        if q is not None:
            out[(team, q)].add(app_id)
    return dict(out)


def requests_by_quarter(session: Session, *, team_id: uuid.UUID | None = None, start: date | None = None,
                        end: date | None = None) -> RequestCounts:
    """Requests received (and approved) by custodian and quarter, between ``start`` and ``end`` (inclusive
    dates; the quarters they fall in are shown whole). Without a range: from the quarter of the first request
    to that of the last. ``team_id``: one custodian only. At most ``MAX_QUARTERS`` quarters (else ``Invalid``)."""
    if start and end and end < start:
        raise Invalid("the range ends before it starts", [FieldError("query.end", "is before start")])
    lo = datetime.combine(quarter_start(quarter_of(start)), time(), UTC) if start else None
    hi = datetime.combine(end + timedelta(days=1), time(), UTC) if end else None

    def within(at: datetime) -> bool:
        return (lo is None or at >= lo) and (hi is None or at < hi)

    received: dict[tuple[uuid.UUID, str], int] = {}
    apps_received: dict[str, set[uuid.UUID]] = defaultdict(set)
    for (team, q), apps in received_by_quarter(
            session, lambda at: quarter_of(at) if within(_utc(at)) else None, team_id=team_id).items():
        received[(team, q)] = len(apps)
        apps_received[q] |= apps
    seen: set[str] = set(apps_received)
    stmt = select(ApplicationPart.application_id, ApplicationPart.team_id, ApplicationPart.state,
                  ApplicationPart.decided_at).where(ApplicationPart.state.in_(APPROVED_STATES))
    if team_id is not None:
        stmt = stmt.where(ApplicationPart.team_id == team_id)
    approved: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
    apps_approved: dict[str, set[uuid.UUID]] = defaultdict(set)
    for app_id, team, state, decided_at in session.execute(stmt):
        if state in APPROVED_STATES and decided_at is not None and within(_utc(decided_at)):
            q = quarter_of(decided_at)
            approved[(team, q)] += 1
            apps_approved[q].add(app_id)
            seen.add(q)
    if start or end:
        first = quarter_of(start) if start else (min(seen) if seen else quarter_of(end))  # type: ignore[arg-type]
        last = quarter_of(end) if end else (max(seen) if seen else first)
    elif seen:
        first, last = min(seen), max(seen)
    else:
        return RequestCounts(quarters=[])
    if quarter_start(last) < quarter_start(first):
        return RequestCounts(quarters=[])
    if _index(last) - _index(first) >= MAX_QUARTERS:
        raise Invalid("the range is too long", [FieldError("query.start", f"at most {MAX_QUARTERS} quarters")])
    quarters = quarters_between(first, last)
    teams = {t for t, _ in received} | {t for t, _ in approved}
    if team_id is not None:
        teams.add(team_id)
    rows = list(session.execute(select(Team.id, Team.slug, Team.name).where(Team.id.in_(list(teams))))) \
        if teams else []
    custodians = [CustodianCounts(team_id=i, slug=slug, name=name, quarters=[
        QuarterCount(q, received.get((i, q), 0), approved.get((i, q), 0)) for q in quarters])
        for i, slug, name in rows]
    custodians.sort(key=lambda c: (c.name.casefold(), str(c.team_id)))
    totals = [QuarterCount(q, len(apps_received.get(q, ())), len(apps_approved.get(q, ()))) for q in quarters]
    return RequestCounts(quarters=quarters, custodians=custodians, totals=totals)
