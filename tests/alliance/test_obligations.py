"""The compliance dashboard under an injected clock as quarters pass: datasets, applications and register
changes arrive, statuses change, and each reminder goes out once. On both databases."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from healthgate.alliance import obligations as ob
from healthgate.alliance import reminders
from healthgate.alliance import service as alliance
from healthgate.alliance.models import ObligationReminder
from healthgate.errors import Forbidden, Invalid, Unauthorized
from healthgate.identity.permissions import ANONYMOUS
from healthgate.outbox.models import OutboxMessage
from healthgate.register import service as register
from tests.access.clocks.conftest import move_to
from tests.alliance.conftest import add_member, apply_to, entry_data, publish_dataset, register_entry


def _gamma(db, w):
    with db.sessions.begin() as s:
        board = ob.board(w.ctx(s, "admin"))
        found = next(m for m in board.members if m.organisation.id == w.orgs["gamma"])
        return {o.key: o for o in found.obligations}


def _state(o: ob.Obligation) -> tuple:
    return o.status, o.due_on.isoformat() if o.due_on else None


def _remind(db, w, *, dry_run: bool = False) -> reminders.Sent:
    with db.sessions.begin() as s:
        result = reminders.send_due(w.ctx(s, "system"), "https://gateway.example.org", dry_run=dry_run)
        if dry_run:
            s.rollback()
    return result


def _emails(db) -> list[tuple[str, str]]:
    with db.sessions.begin() as s:
        return [(m.payload["to"], m.payload["subject"]) for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "email").order_by(OutboxMessage.id))]


def test_obligations_as_quarters_pass(db, world, clock):
    w = world
    move_to(clock, "2026-02-10T10:00")
    add_member(db, w, "gamma", joined="2026-02-10")
    add_member(db, w, "delta", "funder", joined="2026-02-10")
    got = _gamma(db, w)
    assert _state(got[ob.DISCOVERABLE]) == ("due", "2027-02-10")
    assert _state(got[ob.ACCESS]) == ("due", "2026-08-10")
    # the quarter of joining is the grace period: the first quarter that counts is 2026 Q2
    assert _state(got[ob.REGISTER]) == ("due", "2026-06-30") and "2026 Q2" in got[ob.REGISTER].note
    with db.sessions.begin() as s:
        delta = next(m for m in ob.board(w.ctx(s, "admin")).members if m.organisation.id == w.orgs["delta"])
        assert {o.status for o in delta.obligations} == {"not-applicable"}
        assert "data custodians" in delta.obligations[0].note
    assert _remind(db, w).total == 0

    # two weeks before the quarter ends: the register is due soon; one reminder, to team C's admin, once
    move_to(clock, "2026-06-20T09:00")
    assert _state(_gamma(db, w)[ob.REGISTER]) == ("due-soon", "2026-06-30")
    assert _remind(db, w, dry_run=True).total == 1
    assert _emails(db) == []  # a dry run sends nothing
    sent = _remind(db, w)
    assert sent.sent == {"due-soon": 1} and sent.items == ["Gamma Health Board: register-quarterly (due-soon, due 2026-06-30)"]
    again = _remind(db, w)
    assert again.total == 0 and again.already == 1
    mails = _emails(db)
    assert len(mails) == 1 and mails[0][0] == "admin_c@example.org" and "due soon" in mails[0][1]

    # an entry published in Q2: met for this quarter; the next one falls due at the end of Q3
    register_entry(db, w, clock, "C", "2026-06-25T11:00")
    got = _gamma(db, w)
    assert _state(got[ob.REGISTER]) == ("met", "2026-09-30") and got[ob.REGISTER].met_on == date(2026, 6, 25)

    # Q3: not yet updated this quarter, Q2 was: due by the end of Q3; access requests now due soon (30 days)
    move_to(clock, "2026-07-15T09:00")
    got = _gamma(db, w)
    assert _state(got[ob.REGISTER]) == ("due", "2026-09-30")
    assert _state(got[ob.ACCESS]) == ("due-soon", "2026-08-10")
    assert _remind(db, w).sent == {"due-soon": 1}

    # past six months without a request: overdue, reminded once
    move_to(clock, "2026-08-11T09:00")
    assert _state(_gamma(db, w)[ob.ACCESS]) == ("overdue", "2026-08-10")
    assert _remind(db, w).sent == {"overdue": 1}
    assert _remind(db, w).total == 0

    # Q4 begins and Q3 had no change: the register is overdue (since the end of Q3)
    move_to(clock, "2026-10-05T09:00")
    got = _gamma(db, w)
    assert _state(got[ob.REGISTER]) == ("overdue", "2026-09-30") and "2026 Q3" in got[ob.REGISTER].note
    sent = _remind(db, w)
    assert sent.sent == {"overdue": 1}  # the register's; the datasets' year is not due soon before January
    # a dataset becomes public: met (in time); a request arrives: met, but late
    ds = publish_dataset(db, w, clock, "C", "2026-10-05T10:00", title="Gamma cohort")
    apply_to(db, w, clock, "2026-10-06T10:00", [ds])
    got = _gamma(db, w)
    assert got[ob.DISCOVERABLE].status == "met" and got[ob.DISCOVERABLE].met_on == date(2026, 10, 5)
    assert not got[ob.DISCOVERABLE].late and got[ob.DISCOVERABLE].evidence[0].label == "Gamma cohort"
    assert got[ob.DISCOVERABLE].evidence[0].url == f"/datasets/{ds}"
    assert got[ob.ACCESS].status == "met" and got[ob.ACCESS].late and got[ob.ACCESS].met_on == date(2026, 10, 6)

    # the register changes again in Q4: met, with Q3 remembered as missed
    move_to(clock, "2026-10-20T09:00")
    with db.sessions.begin() as s:
        entry = register.team_entries(w.ctx(s, "system"), w.teams["C"])[0]
        register.update(w.ctx(s, "system"), entry.id, entry_data("Heart study, extended"))
    got = _gamma(db, w)
    assert _state(got[ob.REGISTER]) == ("met", "2027-03-31") and "missed 2026 Q3" in got[ob.REGISTER].note

    # into 2027: Q4 was updated, Q1 not yet: due at the end of March
    move_to(clock, "2027-01-03T09:00")
    assert _state(_gamma(db, w)[ob.REGISTER]) == ("due", "2027-03-31")
    with db.sessions.begin() as s:
        rows = s.scalars(select(ObligationReminder).order_by(ObligationReminder.sent_at)).all()
        assert [(r.obligation, r.stage, r.due_on.isoformat()) for r in rows] == [
            ("register-quarterly", "due-soon", "2026-06-30"), ("access-requests", "due-soon", "2026-08-10"),
            ("access-requests", "overdue", "2026-08-10"), ("register-quarterly", "overdue", "2026-09-30")]
    assert all(to == "admin_c@example.org" for to, _ in _emails(db))


def test_an_update_in_a_past_quarter_is_remembered_through_the_audit_log(db, world, clock):
    """The register's rows keep only their latest change; the quarters in between come from the log."""
    w = world
    move_to(clock, "2026-01-20T10:00")
    add_member(db, w, "gamma", joined="2026-01-20")
    entry = register_entry(db, w, clock, "C", "2026-04-10T10:00")  # Q2
    move_to(clock, "2026-08-10T10:00")  # Q3: updated
    with db.sessions.begin() as s:
        register.update(w.ctx(s, "system"), entry, entry_data("Changed in Q3"))
    move_to(clock, "2026-11-10T10:00")  # Q4: updated again, so the row's updated_at forgets Q3
    with db.sessions.begin() as s:
        register.update(w.ctx(s, "system"), entry, entry_data("Changed in Q4"))
    got = _gamma(db, w)[ob.REGISTER]
    assert got.status == "met" and "2 of 2 finished quarters updated" in got.note


def test_left_members_and_teams(db, world, clock):
    w = world
    add_member(db, w, "alpha", joined="2025-01-10")
    add_member(db, w, "beta", joined="2025-03-01")
    with db.sessions.begin() as s:
        alliance.leave(w.ctx(s, "admin"), next(m.id for m, o in alliance.members(w.ctx(s, "admin"), everyone=True)
                                               if o.id == w.orgs["beta"]), date(2026, 1, 1))
        board = ob.board(w.ctx(s, "admin"))
    alpha = next(m for m in board.members if m.organisation.id == w.orgs["alpha"])
    beta = next(m for m in board.members if m.organisation.id == w.orgs["beta"])
    assert {o.status for o in beta.obligations} == {"not-applicable"} and "left" in beta.obligations[0].note
    # team A's datasets were published at the world's start (2026-01-15), after the due date 2026-01-10: late
    d = alpha.obligation(ob.DISCOVERABLE)
    assert (d.status, d.late, d.note) == ("met", True, "2 public datasets")
    assert alpha.obligation(ob.ACCESS).status == "overdue"  # joined 2025-01-10, nothing received
    assert alpha.obligation(ob.REGISTER).status == "overdue"
    assert alpha.worst == "overdue"


def test_dashboard_rows_filters_sorting_and_csv(db, world, clock):
    w = world
    add_member(db, w, "alpha", joined="2025-01-10")
    add_member(db, w, "gamma", joined="2026-01-15")
    add_member(db, w, "delta", "funder", joined="2026-01-15")
    with db.sessions.begin() as s:
        board = ob.board(w.ctx(s, "admin"))
    everything = ob.rows(board)
    assert len(everything) == 9
    assert next(r.obligation.status for r in ob.rows(board, sort="status")) == "overdue"
    assert {r.organisation.name for r in ob.rows(board, status="not-applicable")} == {"Delta Research Fund"}
    assert {r.obligation.key for r in ob.rows(board, obligation="access-requests")} == {"access-requests"}
    assert next(r.organisation.name for r in ob.rows(board, q="gamma")) == "Gamma Health Board"
    assert len(ob.rows(board, q="02wnqcb97")) == 3  # by ROR id
    names = [r.organisation.name for r in ob.rows(board, sort="organisation", descending=True)]
    assert names[0] == "Gamma Health Board" and names[-1] == "Alpha Health Data"
    with pytest.raises(Invalid) as bad:
        ob.rows(board, status="late", sort="size")
    assert {e.path for e in bad.value.errors} == {"status", "sort"}
    table = list(csv.DictReader(io.StringIO(ob.to_csv(everything))))
    assert len(table) == 9 and set(table[0]) == set(ob.CSV_HEADER)
    alpha = next(r for r in table if r["organisation"] == "Alpha Health Data" and r["obligation"] == "discoverable")
    assert (alpha["status"], alpha["late"], alpha["due_on"]) == ("met", "yes", "2026-01-10")


def test_only_the_alliance_admin_sees_obligations_or_sends_reminders(db, world):
    w = world
    with db.sessions.begin() as s:
        for who in ("manager_A", "applicant"):
            with pytest.raises(Forbidden):
                ob.board(w.ctx(s, who))
            with pytest.raises(Forbidden):
                reminders.send_due(w.ctx(s, who))
        with pytest.raises(Unauthorized):
            ob.board(w.ctx(s, "system").as_actor(ANONYMOUS))


def test_calendar_helpers():
    assert ob.add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert ob.add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert ob.quarter_end((2026, 1)) == date(2026, 3, 31) and ob.quarter_end((2026, 4)) == date(2026, 12, 31)
    assert ob.next_quarter((2026, 4)) == (2027, 1) and ob.next_quarter((2026, 1), -1) == (2025, 4)
    assert alliance.propose_wave(date(2026, 8, 1)) == "2026 Q3"
    assert alliance.checked_wave("2026q4") == "2026 Q4"
