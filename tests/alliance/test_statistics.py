"""The transparency statistics on a small world: requests received and approved per quarter and by custodian,
median waiting time per custodian, register entries by sector and access type, catalogue quality by custodian,
and each figure's CSV (formula injection neutralised). On both databases."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from healthgate.alliance import statistics
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.identity.permissions import ANONYMOUS
from tests.access.clocks.conftest import act, move_to, submitted
from tests.alliance.conftest import register_entry


def _stats(db, w):
    with db.sessions.begin() as s:
        return statistics.compute(w.ctx(s, "system").as_actor(ANONYMOUS))  # public: anyone


def test_requests_per_quarter_and_by_custodian(db, world, clock):
    w = world
    # 2025 Q4: one request to A and B (two parts); A approves it in January (2026 Q1)
    both = submitted(db, w, clock, "2025-12-15T10:00", datasets=("A1", "B1"))
    act(db, w, clock, "2026-01-06T10:00", "manager_A", both, "approve")
    # 2026 Q1: three to A; one approved with conditions, one rejected, one open
    a1 = submitted(db, w, clock, "2026-02-02T10:00", datasets=("A1",))
    a2 = submitted(db, w, clock, "2026-02-03T10:00", datasets=("A2",))
    submitted(db, w, clock, "2026-03-31T22:30", datasets=("A1",))  # 22:30 London on 31 March: still Q1
    act(db, w, clock, "2026-03-02T10:00", "manager_A", a1, "approve_with_conditions", {"conditions": ["No linkage"]})
    act(db, w, clock, "2026-03-03T10:00", "manager_A", a2, "reject", {"reason": "Out of scope"})
    # 2026 Q2: one to B, approved in Q2
    b = submitted(db, w, clock, "2026-04-01T09:00", datasets=("B1",))
    act(db, w, clock, "2026-04-08T09:00", "manager_B", b, "approve")
    move_to(clock, "2026-05-01T09:00")
    stats = _stats(db, w)
    assert stats.quarters[-3:] == ["2025 Q4", "2026 Q1", "2026 Q2"] and len(stats.quarters) == statistics.QUARTERS
    by_q = {r.quarter: (r.received, r.approved) for r in stats.requests}
    assert by_q["2025 Q4"] == (2, 0) and by_q["2026 Q1"] == (3, 2) and by_q["2026 Q2"] == (1, 1)
    assert by_q["2025 Q3"] == (0, 0)
    custodians = {c.custodian: c.counts[-3:] for c in stats.requests_by_custodian}
    assert custodians == {"Alpha Health Data": (1, 3, 0), "Beta Biobank": (1, 0, 1)}
    assert stats.requests_by_custodian[0].custodian == "Alpha Health Data"  # most requests first
    table = list(csv.reader(io.StringIO(statistics.figure_csv(stats, "requests"))))
    assert table[0] == ["quarter", "received", "approved"] and table[-2:] == [["2026 Q1", "3", "2"],
                                                                              ["2026 Q2", "1", "1"]]
    by_custodian = list(csv.reader(io.StringIO(statistics.figure_csv(stats, "requests-by-custodian"))))
    assert by_custodian[0][-1] == "total" and by_custodian[1][0] == "Alpha Health Data" and by_custodian[1][-1] == "4"


def test_median_waiting_time_per_custodian(db, world, clock):
    w = world
    # five of A's decisions in March 2026, after 1, 2, 3, 4 and 10 working days (Easter skipped in the last)
    for i, (sub, dec) in enumerate([("2026-03-02T09:00", "2026-03-03T12:00"), ("2026-03-09T09:00", "2026-03-11T12:00"),
                                    ("2026-03-16T09:00", "2026-03-19T12:00"), ("2026-03-23T09:00", "2026-03-27T12:00"),
                                    ("2026-03-30T09:00", "2026-04-15T09:00")]):
        app_id = submitted(db, w, clock, sub, datasets=("A1",), title=f"Study {i}")
        act(db, w, clock, dec, "manager_A", app_id, "approve")
    # one of B's: too few for a median
    app_id = submitted(db, w, clock, "2026-03-02T09:00", datasets=("B1",))
    act(db, w, clock, "2026-03-04T09:00", "manager_B", app_id, "reject", {"reason": "no"})
    move_to(clock, "2026-06-01T09:00")
    stats = _stats(db, w)
    waiting = {x.custodian: (x.decisions, x.median_days) for x in stats.waiting}
    assert waiting == {"Alpha Health Data": (5, 3.0), "Beta Biobank": (1, None)}
    rows = list(csv.DictReader(io.StringIO(statistics.figure_csv(stats, "waiting-times"))))
    assert rows[0] == {"custodian": "Alpha Health Data", "decisions_last_12_months": "5", "median_working_days": "3.0"}
    move_to(clock, "2027-04-20T09:00")  # a year on, they have left the window
    assert _stats(db, w).waiting == []


def test_register_entries_by_sector_and_access_type(db, world, clock):
    w = world
    register_entry(db, w, clock, "A", "2026-02-01T10:00", sector="Academic Institute", access_type="TRE")
    register_entry(db, w, clock, "A", "2026-02-01T11:00", title="Two", sector="Academic Institute",
                   access_type="Release")
    register_entry(db, w, clock, "B", "2026-02-01T12:00", title="Three", sector="Commercial", access_type="TRE")
    register_entry(db, w, clock, "B", "2026-02-01T13:00", title="=cmd|' /C calc'!A0", sector=None, access_type="TRE")
    with db.sessions.begin() as s:  # a draft is not counted
        from healthgate.register import service as register
        from tests.alliance.conftest import entry_data

        register.create(w.ctx(s, "system"), w.teams["A"], entry_data("Draft", sector="Commercial"))
    stats = _stats(db, w)
    assert stats.access_types == ["Release", "TRE"]
    assert {r.sector: (r.by_access_type, r.total) for r in stats.register} == {
        "Academic Institute": ({"Release": 1, "TRE": 1}, 2), "Commercial": ({"Release": 0, "TRE": 1}, 1),
        "Not stated": ({"Release": 0, "TRE": 1}, 1)}
    assert stats.register_total == 4
    rows = list(csv.reader(io.StringIO(statistics.figure_csv(stats, "register"))))
    assert rows[0] == ["sector", "Release", "TRE", "total"] and rows[1] == ["Academic Institute", "1", "1", "2"]


def test_catalogue_quality_by_custodian(db, world, clock):
    w = world
    with db.sessions.begin() as s:
        scores = {}
        for team_id, score in s.execute(select(Dataset.team_id, DatasetVersion.quality_score).join(
                DatasetVersion, DatasetVersion.dataset_id == Dataset.id)):
            scores.setdefault(team_id, []).append(score)
    stats = _stats(db, w)
    got = {q.team_id: q for q in stats.quality}
    assert set(got) == {w.teams["A"], w.teams["B"]}
    a = got[w.teams["A"]]
    assert a.datasets == 2 and a.mean_score == round(sum(scores[w.teams["A"]]) / 2, 1)
    assert sum(a.medallions.values()) == 2 and list(a.medallions) == list(statistics.MEDALLION_NAMES)
    rows = list(csv.DictReader(io.StringIO(statistics.figure_csv(stats, "quality"))))
    assert {r["custodian"] for r in rows} == {"Alpha Health Data", "Beta Biobank"}
    assert rows[0]["mean_quality_score"] == str(stats.quality[0].mean_score)


def test_csv_cells_are_neutralised():
    from datetime import UTC, datetime

    stats = statistics.Statistics(as_of=datetime(2026, 1, 1, tzinfo=UTC), quarters=["2026 Q1"], requests=[],
                                  requests_by_custodian=[], waiting=[], access_types=["TRE"],
                                  register=[statistics.RegisterRow("=HYPERLINK(\"x\")", {"TRE": 1})], quality=[])
    rows = list(csv.reader(io.StringIO(statistics.figure_csv(stats, "register"))))
    assert rows[1][0] == "'=HYPERLINK(\"x\")"
