"""Working days (weekends and the nation's bank holidays excluded, London dates), a part's clock paused while
returned, steps, flags and standards; on both databases through the service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from healthgate.access import clocks, standards
from healthgate.audit.models import AuditEvent
from healthgate.errors import Forbidden, Invalid
from tests.access.clocks.conftest import act, move_to, submitted

# -- the calendar (no database) ------------------------------------------------------------------------------


def test_counting_rule_weekend_and_same_day():
    fri = datetime(2026, 1, 9, 16, 0, tzinfo=UTC)
    assert clocks.between(fri, datetime(2026, 1, 13, 9, 0, tzinfo=UTC)) == 2  # Friday 16:00 -> Tuesday: Mon, Tue
    assert clocks.between(fri, datetime(2026, 1, 9, 17, 0, tzinfo=UTC)) == 0  # same day
    assert clocks.between(fri, datetime(2026, 1, 11, 12, 0, tzinfo=UTC)) == 0  # only the weekend
    assert clocks.working_days(date(2026, 1, 12), date(2026, 1, 19)) == 5  # a whole week
    assert clocks.working_days(date(2026, 1, 19), date(2026, 1, 12)) == 0


def test_english_and_scottish_bank_holidays():
    # Easter 2026: Good Friday 3 April everywhere, Easter Monday 6 April not in Scotland
    assert clocks.working_days(date(2026, 4, 2), date(2026, 4, 7), "ENG") == 1
    assert clocks.working_days(date(2026, 4, 2), date(2026, 4, 7), "SCT") == 2
    # 2 January is a bank holiday in Scotland only
    assert clocks.working_days(date(2025, 12, 31), date(2026, 1, 2), "ENG") == 1
    assert clocks.working_days(date(2025, 12, 31), date(2026, 1, 2), "SCT") == 0
    # Christmas 2026: Fri 25, Boxing Day observed Mon 28
    assert clocks.working_days(date(2026, 12, 24), date(2026, 12, 29), "ENG") == 1
    # St Andrew's Day (Mon 30 November 2026) in Scotland; Northern Ireland's St Patrick's Day (Tue 17 March)
    assert clocks.working_days(date(2026, 11, 27), date(2026, 11, 30), "SCT") == 0
    assert clocks.working_days(date(2026, 3, 16), date(2026, 3, 17), "NIR") == 0
    assert clocks.working_days(date(2026, 3, 16), date(2026, 3, 17), "WLS") == 1


def test_london_dates():
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST): Wed 1 July counts
    start = datetime(2026, 6, 29, 12, 0, tzinfo=UTC)
    assert clocks.between(start, datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == 2
    assert clocks.london_date(datetime(2026, 1, 15, 23, 30, tzinfo=UTC)) == date(2026, 1, 15)  # GMT in winter


def test_add_working_days_and_percentiles():
    assert clocks.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)  # over Easter
    assert clocks.add_working_days(date(2026, 4, 2), 1, "SCT") == date(2026, 4, 6)
    assert clocks.add_working_days(date(2026, 4, 7), 0) == date(2026, 4, 7)
    assert clocks.add_working_days(date(2026, 4, 7), -1) == date(2026, 4, 2)
    assert clocks.percentile([3, 1, 2, 5, 4], 50) == 3
    assert clocks.percentile([1, 2, 3, 4, 5], 90) == pytest.approx(4.6)
    assert clocks.twelve_months_before(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2027, 2, 28, tzinfo=UTC)


# -- a part's clock through the service ----------------------------------------------------------------------


def test_clock_paused_while_returned_across_easter_and_per_nation(db, world, clock):
    w = world
    with db.sessions.begin() as s:
        standards.set_nation(w.ctx(s, "manager_B"), w.teams["B"], "SCT")
    app_id = submitted(db, w, clock, "2026-04-02T10:00")  # Thursday before Easter
    act(db, w, clock, "2026-04-07T11:00", "manager_A", app_id, "return", {"reason": "more on linkage"})
    with db.sessions.begin() as s:
        a = clocks.part_clock(w.ctx(s, "system"), app_id, w.teams["A"])
        assert a is not None and a.paused and a.working_days == 1 and a.first_response_days == 1
        assert a.step == "decision" and a.due_on is None
    act(db, w, clock, "2026-04-09T15:00", "applicant", app_id, "resubmit")  # paused Wed 8, Thu 9
    act(db, w, clock, "2026-04-13T09:00", "manager_A", app_id, "approve")  # Fri 10, Mon 13
    act(db, w, clock, "2026-04-14T16:00", "manager_B", app_id, "reject", {"reason": "out of scope"})
    move_to(clock, "2026-05-01T12:00")
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "system")
        a = clocks.part_clock(ctx, app_id, w.teams["A"])
        assert a is not None
        assert (a.working_days, a.paused_days, a.paused, a.stopped, a.flag) == (3, 2, False, True, "")
        assert a.decided_at is not None and a.first_response_days == 1
        b = clocks.part_clock(ctx, app_id, w.teams["B"])
        # Scotland works on Easter Monday: Mon 6, Tue 7, Wed 8, Thu 9, Fri 10, Mon 13, Tue 14
        assert b is not None and (b.working_days, b.paused_days, b.first_response_days) == (7, 0, 7)
        assert clocks.part_clock(ctx, app_id, w.teams["A"]) == clocks.team_clocks(ctx, w.teams["A"])[app_id]


def test_draft_has_no_clock_and_open_part_flags(db, world, clock):
    w = world
    move_to(clock, "2026-01-05T09:00")
    with db.sessions.begin() as s:
        draft = clocks.part_clock(w.ctx(s, "system"), _draft(s, w), w.teams["A"])
        assert draft is None
    app_id = submitted(db, w, clock, "2026-01-05T09:00", datasets=("A1",))  # Monday
    with db.sessions.begin() as s:
        c = clocks.part_clock(w.ctx(s, "system"), app_id, w.teams["A"])
        assert c is not None and (c.working_days, c.step, c.flag, c.standard) == (0, "first_response", "", 10)
        assert c.due_on == date(2026, 1, 19)  # 10 working days after Monday 5 January
    move_to(clock, "2026-01-14T09:00")  # 7 working days: 3 left (first response due soon at 3)
    with db.sessions.begin() as s:
        c = clocks.part_clock(w.ctx(s, "system"), app_id, w.teams["A"])
        assert c is not None and (c.working_days, c.flag) == (7, "due_soon")
    move_to(clock, "2026-01-20T09:00")  # 11 working days: overdue for a first response
    with db.sessions.begin() as s:
        c = clocks.part_clock(w.ctx(s, "system"), app_id, w.teams["A"])
        assert c is not None and (c.working_days, c.flag, c.due_on) == (11, "overdue", date(2026, 1, 19))
    act(db, w, clock, "2026-01-20T10:00", "manager_A", app_id, "assign_reviewers",
        {"reviewers": [str(w.people["reviewer_A"])], "due": "2026-02-01"})
    with db.sessions.begin() as s:  # responded on day 11: now measured against the decision standard (60)
        c = clocks.part_clock(w.ctx(s, "system"), app_id, w.teams["A"])
        assert c is not None and (c.step, c.flag, c.first_response_days) == ("decision", "", 11)
        assert c.due_on == clocks.add_working_days(date(2026, 1, 20), 49)


def _draft(s, w):
    from healthgate.access import service as access

    return access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id


def test_standards_defaults_admin_edit_audited(db, world):
    w = world
    with db.sessions.begin() as s:
        got = standards.standards(w.ctx(s, "applicant"))
        assert (got["decision"].working_days, got["first_response"].working_days) == (60, 10)
        with pytest.raises(Forbidden):
            standards.set_standard(w.ctx(s, "manager_A"), "decision", 30, 5)
        with pytest.raises(Invalid) as bad:
            standards.set_standard(w.ctx(s, "admin"), "decision", 30, 30)
        assert bad.value.errors[0].path == "due_soon_days"
        with pytest.raises(Invalid) as bad:
            standards.set_standard(w.ctx(s, "admin"), "decision", "many", 3)
        assert bad.value.errors[0].path == "working_days"
        with pytest.raises(Invalid):
            standards.set_standard(w.ctx(s, "admin"), "lunch", 3, 1)
        standards.set_standard(w.ctx(s, "admin"), "decision", 40, 5)
    with db.sessions.begin() as s:
        assert standards.standards(w.ctx(s, "stranger"))["decision"] == standards.Standard("decision", 40, 5)
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("access.%"))))
        assert actions == ["access.clock_standard_set"]


def test_nation_set_by_access_manager_only(db, world):
    w = world
    with db.sessions.begin() as s:
        assert standards.nation(w.ctx(s, "system"), w.teams["A"]) == "ENG"
        with pytest.raises(Forbidden):
            standards.set_nation(w.ctx(s, "reviewer_A"), w.teams["A"], "WLS")
        with pytest.raises(Forbidden):
            standards.set_nation(w.ctx(s, "manager_B"), w.teams["A"], "WLS")
        with pytest.raises(Invalid) as bad:
            standards.set_nation(w.ctx(s, "manager_A"), w.teams["A"], "FRA")
        assert bad.value.errors[0].path == "nation"
        standards.set_nation(w.ctx(s, "manager_A"), w.teams["A"], "wls")
    with db.sessions.begin() as s:
        assert standards.nations(w.ctx(s, "system"), [w.teams["A"], w.teams["B"]]) == {
            w.teams["A"]: "WLS", w.teams["B"]: "ENG"}


# -- the arithmetic against counting day by day ------------------------------------------------------------------

_days = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
_nations = st.sampled_from(sorted(standards.NATIONS))


@settings(max_examples=300, deadline=None)
@given(_days, st.integers(min_value=-40, max_value=400), _nations)
def test_working_days_match_day_by_day_count(start, span, nation):
    end = start + timedelta(days=span)
    by_hand = sum(clocks.is_working_day(start + timedelta(days=i), nation) for i in range(1, span + 1))
    assert clocks.working_days(start, end, nation) == by_hand


@settings(max_examples=200, deadline=None)
@given(_days, st.integers(min_value=-60, max_value=60), _nations)
def test_add_working_days_inverts_working_days(start, n, nation):
    due = clocks.add_working_days(start, n, nation)
    if n >= 0:
        assert clocks.working_days(start, due, nation) == n and (n == 0 or clocks.is_working_day(due, nation))
    else:
        assert clocks.working_days(due, start, nation) == -n and clocks.is_working_day(due, nation)
