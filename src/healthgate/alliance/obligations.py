"""Members' obligations, computed from the data as of ``ctx.now()`` (never stored), for the compliance
dashboard, its CSV and API, and the reminders. The exact rules (docs/alliance.md):

- A member's teams are the teams of its organisation (``Team.organisation_id``). Dates are London dates.
- **discoverable** (data custodians): at least one of the member's teams' datasets is public in the catalogue
  (status active), due 12 calendar months after the join date. Met as soon as one is; ``met_on`` is the day
  the first of the currently public datasets first became public (its first version's publication), and
  ``late`` says it was after the due date.
- **access-requests** (data custodians): at least one data access request received through the gateway by one
  of the member's teams (an application part submitted to it), due 6 calendar months after the join date;
  ``met_on`` is the day the first was received.
- **register-quarterly** (data custodians): the member's teams' data use register changed (an entry created,
  updated, published or withdrawn, or a register file uploaded) in every calendar quarter, starting with the
  first full quarter after the join date (the quarter of joining is the grace period). Each quarter falls due
  on its last day. Met while the current quarter has a change; overdue while the last finished quarter had
  none and the current quarter has none yet; otherwise due by the end of the current quarter.
- A status is ``due-soon`` within ``DUE_SOON_DAYS`` days of the due date, ``overdue`` after it; other member
  types, and members that have left, have ``not-applicable`` obligations.
"""

from __future__ import annotations

import calendar
import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from healthgate.access.clocks import london_date
from healthgate.access.dashboard import cell
from healthgate.access.models import Application, ApplicationPart
from healthgate.alliance import service as members
from healthgate.alliance.models import Member
from healthgate.audit.models import AuditEvent
from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion
from healthgate.clock import utc
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.identity.models import Organisation, Team
from healthgate.identity.permissions import Permission, require
from healthgate.register.models import RegisterEntry, RegisterUpload

DISCOVERABLE, ACCESS, REGISTER = "discoverable", "access-requests", "register-quarterly"
OBLIGATIONS: dict[str, str] = {
    DISCOVERABLE: "Datasets discoverable within 12 months",
    ACCESS: "Access requests through the gateway within 6 months",
    REGISTER: "Data use register updated every quarter",
}
MONTHS = {DISCOVERABLE: 12, ACCESS: 6}
DUE_SOON_DAYS = {DISCOVERABLE: 30, ACCESS: 30, REGISTER: 14}
MET, DUE, DUE_SOON, OVERDUE, NOT_APPLICABLE = "met", "due", "due-soon", "overdue", "not-applicable"
STATUSES: dict[str, str] = {MET: "Met", DUE: "Due", DUE_SOON: "Due soon", OVERDUE: "Overdue",
                            NOT_APPLICABLE: "Not applicable"}
_URGENCY = {OVERDUE: 0, DUE_SOON: 1, DUE: 2, MET: 3, NOT_APPLICABLE: 4}
SORTS = ("due", "organisation", "status", "joined", "obligation")
REGISTER_ACTIONS = ("register_entry.created", "register_entry.updated", "register_entry.published",
                    "register_entry.withdrawn")


# ---- calendar -------------------------------------------------------------------------------------------


def add_months(d: date, months: int) -> date:
    """The same day ``months`` calendar months later (the month's last day when it is shorter)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


Quarter = tuple[int, int]


def quarter_of(d: date) -> Quarter:
    return d.year, (d.month - 1) // 3 + 1


def next_quarter(q: Quarter, n: int = 1) -> Quarter:
    i = q[0] * 4 + q[1] - 1 + n
    return i // 4, i % 4 + 1


def quarter_start(q: Quarter) -> date:
    return date(q[0], 3 * q[1] - 2, 1)


def quarter_end(q: Quarter) -> date:
    return quarter_start(next_quarter(q)) - timedelta(days=1)


def quarter_label(q: Quarter) -> str:
    return f"{q[0]} Q{q[1]}"


# ---- the results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    label: str  # what it is: "Alpha cardiovascular cohort", "DAR-2026-...", "register entry changed"
    on: date | None = None
    ref: str | None = None  # a dataset id, an application reference
    url: str | None = None  # a public page, when there is one


@dataclass(frozen=True)
class Obligation:
    key: str
    status: str
    due_on: date | None  # when it falls due (met: the next due date of a recurring obligation, else the date it fell due)
    met_on: date | None = None
    late: bool = False  # met, but after the due date
    note: str = ""
    evidence: tuple[Evidence, ...] = ()

    @property
    def label(self) -> str:
        return OBLIGATIONS[self.key]

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]


@dataclass(frozen=True)
class MemberObligations:
    member: Member
    organisation: Organisation
    teams: tuple[Team, ...]
    obligations: tuple[Obligation, ...]

    @property
    def worst(self) -> str:
        return min((o.status for o in self.obligations), key=_URGENCY.__getitem__, default=NOT_APPLICABLE)

    def obligation(self, key: str) -> Obligation:
        return next(o for o in self.obligations if o.key == key)


@dataclass(frozen=True)
class Board:
    today: date
    members: list[MemberObligations]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for m in self.members:
            for o in m.obligations:
                out[o.status] += 1
        return out


@dataclass
class _Facts:
    """What the data says about one member's teams."""

    datasets: list[tuple[uuid.UUID, datetime]] = field(default_factory=list)  # public datasets, first public
    first_request: tuple[str, datetime] | None = None  # (application reference, received)
    requests: int = 0
    changes: dict[Quarter, list[date]] = field(default_factory=lambda: defaultdict(list))
    last_change: date | None = None


def _status(today: date, due: date, key: str) -> str:
    if today > due:
        return OVERDUE
    if today >= due - timedelta(days=DUE_SOON_DAYS[key]):
        return DUE_SOON
    return DUE


def _discoverable(m: Member, facts: _Facts, titles: dict[uuid.UUID, str], today: date) -> Obligation:
    due = add_months(m.join_date, MONTHS[DISCOVERABLE])
    if facts.datasets:
        first_id, first_at = min(facts.datasets, key=lambda d: (d[1], str(d[0])))
        met_on = london_date(first_at)
        n = len(facts.datasets)
        return Obligation(DISCOVERABLE, MET, due, met_on, met_on > due,
                          f"{n} public dataset{'s' if n != 1 else ''}",
                          (Evidence(titles.get(first_id, str(first_id)), met_on, str(first_id),
                                    f"/datasets/{first_id}"),))
    return Obligation(DISCOVERABLE, _status(today, due, DISCOVERABLE), due, note="no public dataset yet")


def _access(m: Member, facts: _Facts, today: date) -> Obligation:
    due = add_months(m.join_date, MONTHS[ACCESS])
    if facts.first_request is not None:
        reference, at = facts.first_request
        met_on = london_date(at)
        n = facts.requests
        return Obligation(ACCESS, MET, due, met_on, met_on > due,
                          f"{n} request{'s' if n != 1 else ''} received through the gateway",
                          (Evidence(f"first request received: {reference}", met_on, reference),))
    return Obligation(ACCESS, _status(today, due, ACCESS), due, note="no access request received yet")


def _register(m: Member, facts: _Facts, today: date) -> Obligation:
    first = next_quarter(quarter_of(m.join_date))  # the quarter of joining is the grace period
    current = quarter_of(today)
    evidence = tuple(Evidence("register changed", d) for d in ([facts.last_change] if facts.last_change else []))
    if current < first:
        return Obligation(REGISTER, DUE, quarter_end(first),
                          note=f"the first quarter that counts is {quarter_label(first)}", evidence=evidence)
    counted = []
    q = first
    while q < current:
        counted.append(q)
        q = next_quarter(q)
    missed = [q for q in counted if not facts.changes.get(q)]
    history = (f"{len(counted) - len(missed)} of {len(counted)} finished quarters updated"
               + (f"; missed {', '.join(quarter_label(q) for q in missed[-4:])}" if missed else "")) \
        if counted else ""
    if facts.changes.get(current):
        met_on = min(facts.changes[current])
        return Obligation(REGISTER, MET, quarter_end(next_quarter(current)), met_on,
                          note="; ".join(x for x in (f"updated in {quarter_label(current)}", history) if x),
                          evidence=evidence)
    previous = next_quarter(current, -1)
    if previous >= first and not facts.changes.get(previous):
        return Obligation(REGISTER, OVERDUE, quarter_end(previous),
                          note="; ".join(x for x in (f"not updated in {quarter_label(previous)} nor since",
                                                     history) if x), evidence=evidence)
    due = quarter_end(current)
    return Obligation(REGISTER, _status(today, due, REGISTER), due,
                      note="; ".join(x for x in (f"not yet updated in {quarter_label(current)}", history) if x),
                      evidence=evidence)


def _not_applicable(key: str, why: str) -> Obligation:
    return Obligation(key, NOT_APPLICABLE, None, note=why)


# ---- reading the data -----------------------------------------------------------------------------------


def _facts(ctx: Context, team_ids: Sequence[uuid.UUID], since: date | None) -> dict[uuid.UUID, _Facts]:
    """Per team: its public datasets with their first publication, its first access request received, and
    the quarters in which its register changed (from ``since`` on)."""
    out: dict[uuid.UUID, _Facts] = {t: _Facts() for t in team_ids}
    if not team_ids:
        return out
    teams = list(team_ids)
    for ds_id, team_id, first in ctx.session.execute(
            select(Dataset.id, Dataset.team_id, func.min(DatasetVersion.published_at))
            .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
            .where(Dataset.team_id.in_(teams), Dataset.status == DatasetStatus.ACTIVE)
            .group_by(Dataset.id, Dataset.team_id)):
        out[team_id].datasets.append((ds_id, utc(first)))
    for team_id, first, n in ctx.session.execute(
            select(ApplicationPart.team_id, func.min(ApplicationPart.submitted_at), func.count())
            .where(ApplicationPart.team_id.in_(teams)).group_by(ApplicationPart.team_id)):
        reference = ctx.session.scalar(
            select(Application.reference).join(ApplicationPart, ApplicationPart.application_id == Application.id)
            .where(ApplicationPart.team_id == team_id).order_by(ApplicationPart.submitted_at, Application.id)
            .limit(1))
        out[team_id].first_request = (reference or "", utc(first))
        out[team_id].requests = n
    if since is None:
        return out
    start = datetime(since.year, since.month, since.day, tzinfo=UTC) - timedelta(days=1)  # London dates

    def changed(team_id: uuid.UUID, at: datetime | None) -> None:
        if at is None:
            return
        d = london_date(at)
        if d < since:
            return
        f = out[team_id]
        f.changes[quarter_of(d)].append(d)
        f.last_change = max(f.last_change or d, d)

    entry_team: dict[str, uuid.UUID] = {}
    for entry_id, team_id, created, updated, published in ctx.session.execute(
            select(RegisterEntry.id, RegisterEntry.team_id, RegisterEntry.created_at, RegisterEntry.updated_at,
                   RegisterEntry.published_at).where(RegisterEntry.team_id.in_(teams))):
        entry_team[str(entry_id)] = team_id
        for at in (created, updated, published):
            changed(team_id, at)
    for team_id, at in ctx.session.execute(select(RegisterUpload.team_id, RegisterUpload.uploaded_at).where(
            RegisterUpload.team_id.in_(teams), RegisterUpload.uploaded_at >= start)):
        changed(team_id, at)
    if entry_team:  # every change of the entries, not only their latest: the audit log keeps each one
        for subject, at in ctx.session.execute(
                select(AuditEvent.subject_id, AuditEvent.at).where(
                    AuditEvent.action.in_(REGISTER_ACTIONS), AuditEvent.subject_type == "register_entry",
                    AuditEvent.at >= start)):
            owner = entry_team.get(subject)
            if owner is not None:
                changed(owner, at)
    return out


def _merge(facts: Iterable[_Facts]) -> _Facts:
    out = _Facts()
    for f in facts:
        out.datasets.extend(f.datasets)
        if f.first_request and (out.first_request is None or f.first_request[1] < out.first_request[1]):
            out.first_request = f.first_request
        out.requests += f.requests
        for q, days in f.changes.items():
            out.changes[q].extend(days)
        if f.last_change and (out.last_change is None or f.last_change > out.last_change):
            out.last_change = f.last_change
    return out


def _titles(ctx: Context, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return {ds: title for ds, title in ctx.session.execute(
        select(Dataset.id, DatasetVersion.title).join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
        .where(Dataset.id.in_(list(ids)), DatasetVersion.number == Dataset.latest_version))}


def board(ctx: Context, *, member_ids: Sequence[uuid.UUID] | None = None) -> Board:
    """Every member's obligations as of ``ctx.now()`` (the alliance admin's)."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    today = london_date(ctx.now())
    rows = members.members(ctx, everyone=True)
    if member_ids is not None:
        wanted = set(member_ids)
        rows = [(m, o) for m, o in rows if m.id in wanted]
    org_ids = [o.id for _, o in rows]
    teams_of: dict[uuid.UUID, list[Team]] = defaultdict(list)
    if org_ids:
        for team in ctx.session.scalars(select(Team).where(Team.organisation_id.in_(org_ids)).order_by(Team.name_key)):
            assert team.organisation_id is not None
            teams_of[team.organisation_id].append(team)
    custodians = [(m, o) for m, o in rows if m.member_type == members.CUSTODIAN
                  and (m.left_on is None or m.left_on > today)]
    since = min((quarter_start(next_quarter(quarter_of(m.join_date))) for m, _ in custodians), default=None)
    facts = _facts(ctx, [t.id for m, o in custodians for t in teams_of[o.id]], since)
    merged = {m.id: _merge(facts[t.id] for t in teams_of[o.id]) for m, o in custodians}
    titles = _titles(ctx, [min(f.datasets, key=lambda d: (d[1], str(d[0])))[0]
                           for f in merged.values() if f.datasets])
    out = []
    for m, o in rows:
        keys = list(OBLIGATIONS)
        if m.left_on is not None and m.left_on <= today:
            obligations = tuple(_not_applicable(k, f"left the alliance on {m.left_on.isoformat()}") for k in keys)
        elif m.member_type != members.CUSTODIAN:
            why = f"only data custodians have this obligation ({members.MEMBER_TYPES[m.member_type].lower()})"
            obligations = tuple(_not_applicable(k, why) for k in keys)
        else:
            f = merged[m.id]
            found: tuple[Obligation, ...] = (_discoverable(m, f, titles, today), _access(m, f, today),
                                             _register(m, f, today))
            if not teams_of[o.id]:
                found = tuple(Obligation(x.key, x.status, x.due_on, x.met_on, x.late,
                                         "no team of this organisation on the gateway yet", x.evidence)
                              for x in found)
            obligations = found
        out.append(MemberObligations(m, o, tuple(teams_of[o.id]), obligations))
    return Board(today, out)


# ---- the dashboard's rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    member: Member
    organisation: Organisation
    obligation: Obligation


def rows(b: Board, *, status: str | None = None, obligation: str | None = None, member_type: str | None = None,
         q: str | None = None, sort: str = "due", descending: bool = False) -> list[Row]:
    """The board as one row per member and obligation, filtered and sorted (``SORTS``)."""
    errors = []
    if status and status not in STATUSES:
        errors.append(FieldError("status", f"one of: {', '.join(STATUSES)}"))
    if obligation and obligation not in OBLIGATIONS:
        errors.append(FieldError("obligation", f"one of: {', '.join(OBLIGATIONS)}"))
    if member_type and member_type not in members.MEMBER_TYPES:
        errors.append(FieldError("member_type", f"one of: {', '.join(members.MEMBER_TYPES)}"))
    if sort not in SORTS:
        errors.append(FieldError("sort", f"one of: {', '.join(SORTS)}"))
    if errors:
        raise Invalid("the filter is not valid", errors)
    needle = (q or "").strip().casefold()
    out = [Row(m.member, m.organisation, o) for m in b.members for o in m.obligations
           if (not status or o.status == status) and (not obligation or o.key == obligation)
           and (not member_type or m.member.member_type == member_type)
           and (not needle or needle in m.organisation.name.casefold() or needle == (m.organisation.ror_id or ""))]
    order = list(OBLIGATIONS)
    far = date.max

    def key(r: Row) -> tuple[object, ...]:
        name = r.organisation.name.casefold()
        if sort == "organisation":
            return (name, order.index(r.obligation.key))
        if sort == "status":
            return (_URGENCY[r.obligation.status], r.obligation.due_on or far, name)
        if sort == "joined":
            return (r.member.join_date, name, order.index(r.obligation.key))
        if sort == "obligation":
            return (order.index(r.obligation.key), _URGENCY[r.obligation.status], r.obligation.due_on or far, name)
        return (r.obligation.due_on or far, _URGENCY[r.obligation.status], name)

    return sorted(out, key=key, reverse=descending)


CSV_HEADER = ("organisation", "ror_id", "member_type", "join_date", "wave", "obligation", "status", "due_on",
              "met_on", "late", "note", "evidence", "evidence_date")


def to_csv(items: Sequence[Row]) -> str:
    """The rows as CSV (formula injection neutralised)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in items:
        o = r.obligation
        ev = o.evidence[0] if o.evidence else None
        writer.writerow([cell(v) for v in (
            r.organisation.name, r.organisation.ror_id, r.member.member_type, r.member.join_date, r.member.wave,
            o.key, o.status, o.due_on, o.met_on, "yes" if o.late else "no" if o.status == MET else "", o.note,
            ev.label if ev else None, ev.on if ev else None)])
    return buf.getvalue()
