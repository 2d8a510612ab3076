"""Time to decision over the last 12 months (median, p90, None below 5 decisions), the terms of access, the
dashboard's figures, pages, API and CSV exports (formula injection neutralised); on both databases."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from healthgate.access import dashboard, terms
from healthgate.catalogue.models import Dataset
from healthgate.errors import Forbidden
from healthgate.identity import tokens
from healthgate.identity.models import User
from tests.access.clocks.conftest import act, move_to, submitted
from tests.conftest import signed_in


def _decide(db, w, clock, submitted_on: str, decided_on: str, title: str = "Study", command: str = "approve"):
    app_id = submitted(db, w, clock, submitted_on, datasets=("A1",), title=title)
    act(db, w, clock, decided_on, "manager_A", app_id, command, {"reason": "no"} if command == "reject" else {})
    return app_id


def test_time_to_decision_needs_five_decisions_in_twelve_months(db, world, clock):
    w = world
    # an old decision (more than 12 months before "now") does not count
    _decide(db, w, clock, "2025-01-06T09:00", "2025-01-08T09:00")
    # Mondays in March 2026, decided after 1, 2, 3, 4 working days
    for i, (sub, dec) in enumerate([("2026-03-02T09:00", "2026-03-03T12:00"), ("2026-03-09T09:00", "2026-03-11T12:00"),
                                    ("2026-03-16T09:00", "2026-03-19T12:00"), ("2026-03-23T09:00", "2026-03-27T12:00")]):
        _decide(db, w, clock, sub, dec, title=f"Study {i}")
    move_to(clock, "2026-06-01T09:00")
    with db.sessions.begin() as s:
        t = terms.terms_of_access(w.ctx(s, "stranger"), s.get(Dataset, w.datasets["A2"]))
        assert (t.decisions, t.median_days, t.p90_days, t.enough) == (4, None, None, False)
    # the fifth: submitted before Easter, decided after it (Good Friday and Easter Monday skipped): 10 days
    _decide(db, w, clock, "2026-03-30T09:00", "2026-04-15T09:00", title="Study 5", command="reject")
    move_to(clock, "2026-06-01T09:00")
    with db.sessions.begin() as s:
        t = terms.terms_of_access(w.ctx(s, "stranger"), s.get(Dataset, w.datasets["A1"]))
        assert (t.decisions, t.median_days, t.p90_days) == (5, 3.0, 7.6)  # p90 of 1,2,3,4,10: 4 + 0.6 x 6
        b = terms.terms_of_access(w.ctx(s, "stranger"), s.get(Dataset, w.datasets["B1"]))
        assert (b.decisions, b.median_days) == (0, None)  # another custodian's own figures
    move_to(clock, "2027-03-20T09:00")  # a year on, the March 2026 decisions have left the window
    with db.sessions.begin() as s:
        t = terms.terms_of_access(w.ctx(s, "stranger"), s.get(Dataset, w.datasets["A1"]))
        assert (t.decisions, t.median_days) == (2, None)


def test_terms_declared_in_the_metadata(db, world):
    assert terms.declared({"accessibility": {"access": {"accessRequestCost": " https://example.org/charges ",
                                                         "deliveryLeadTime": "1-2 months"}}}) == (
        "https://example.org/charges", "1-2 months")
    assert terms.declared({"accessibility": {"access": None}}) == (None, None)
    assert terms.declared(None) == (None, None)
    t = terms.Terms("https://example.org/charges", None, 0, None, None)
    assert t.cost_is_link and not terms.Terms("Free to academics", None, 0, None, None).cost_is_link


def test_dashboard_figures_and_permission(db, world, clock):
    w = world
    open_id = submitted(db, w, clock, "2026-01-05T09:00", datasets=("A1",), title="=HYPERLINK(\"http://x\")")
    returned = submitted(db, w, clock, "2026-01-05T10:00", datasets=("A1", "B1"), title="Returned one")
    act(db, w, clock, "2026-01-06T10:00", "manager_A", returned, "return", {"reason": "more"})
    _decide(db, w, clock, "2026-01-05T11:00", "2026-01-07T09:00", title="+decided")
    move_to(clock, "2026-01-15T09:00")  # open_id: 8 working days, first response due soon (standard 10, soon 3)
    with db.sessions.begin() as s:
        with pytest.raises(Forbidden):
            dashboard.dashboard(w.ctx(s, "manager_B"), w.teams["A"])
        with pytest.raises(Forbidden):
            dashboard.queue_csv(w.ctx(s, "applicant"), w.teams["A"])
        board = dashboard.dashboard(w.ctx(s, "reviewer_A"), w.teams["A"])
        assert [r.application_id for r in board.queue] == [open_id, returned]
        first = board.queue[0]
        assert (first.clock.working_days, first.clock.flag, first.clock.step) == (8, "due_soon", "first_response")
        assert board.queue[1].clock.paused
        assert board.flags == {"due_soon": 1, "overdue": 0, "paused": 1}
        assert board.counts["submitted"] == 1 and board.counts["returned"] == 1 and board.counts["approved"] == 1
        assert board.time_to_decision.decisions == 1 and board.time_to_decision.median_days is None
        assert board.months[-1] == dashboard.Month("2026-01", 1, 2.0) and len(board.months) == 12
        assert dict(board.histogram)["0-5"] == 1
        rows = list(csv.DictReader(io.StringIO(dashboard.queue_csv(w.ctx(s, "manager_A"), w.teams["A"]))))
        assert rows[0]["title"] == "'=HYPERLINK(\"http://x\")"  # neutralised
        assert (rows[0]["working_days"], rows[0]["flag"], rows[1]["paused"]) == ("8", "due_soon", "yes")
        decided = list(csv.DictReader(io.StringIO(dashboard.decisions_csv(w.ctx(s, "manager_A"), w.teams["A"]))))
        assert [(d["title"], d["decision"], d["working_days_to_decision"]) for d in decided] == [
            ("'+decided", "approved", "2")]


def test_csv_cells():
    assert [dashboard.cell(v) for v in ("=1+1", "+44 20", "-3", "@SUM(A1)", "\tx", "plain", None, 5)] == [
        "'=1+1", "'+44 20", "'-3", "'@SUM(A1)", "'\tx", "plain", "", "5"]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_pages_api_and_csv_downloads(app, db, world, clock):
    w = world
    submitted(db, w, clock, "2026-01-05T09:00", datasets=("A1",), title="Cohort study")
    move_to(clock, "2026-01-20T09:00")  # 11 working days: overdue for a first response
    with db.sessions.begin() as s:
        slug = s.get(Dataset, w.datasets["A1"]).team.slug
    url = f"/workspace/teams/{slug}/access/dashboard"
    manager = signed_in(app, db, w, "manager_A")
    page = manager.get(url)
    assert page.status_code == 200, page.text[:500]
    assert "Cohort study" in page.text and "overdue" in page.text and "<svg" in page.text
    assert "<script>" not in page.text and 'role="img"' in page.text and "<desc" in page.text
    assert 'name="nation"' in page.text  # an access manager may set the nation
    reviewer = signed_in(app, db, w, "reviewer_A")
    assert 'name="nation"' not in reviewer.get(url).text
    assert signed_in(app, db, w, "manager_B").get(url).status_code in (403, 404)
    got = manager.get(url + "/queue.csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"] and "Cohort study" in got.text
    assert manager.get(url + "/decisions.csv").text.startswith("reference,title,decision")
    # the nation form: bad value 422 naming it; good value saved
    bad = manager.post(url + "/nation", data={"nation": "XX", "csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert bad.status_code == 422 and "nation" in bad.text
    ok = manager.post(url + "/nation", data={"nation": "SCT", "csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert ok.status_code == 303
    assert "Scotland" in manager.get(url).text
    # the API
    api = manager.get(f"/api/v1/access/teams/{slug}/dashboard")
    assert api.status_code == 200, api.text
    body = api.json()
    assert body["nation"] == "SCT" and body["queue"][0]["flag"] == "overdue" and body["queue"][0]["working_days"] == 11
    assert manager.get("/api/v1/access/standards").json()["standards"][1] == {
        "step": "decision", "label": "Decision", "working_days": 60, "due_soon_days": 10}


def test_admin_standards_page_and_api(app, db, world):
    w = world
    admin = signed_in(app, db, w, "admin")
    page = admin.get("/admin/access/standards")
    assert page.status_code == 200 and 'name="decision/working_days"' in page.text
    fields = {"first_response/working_days": "10", "first_response/due_soon_days": "3",
              "decision/working_days": "45", "decision/due_soon_days": "50", "csrf_token": _csrf(page.text)}
    bad = admin.post("/admin/access/standards", data=fields, follow_redirects=False)
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    ok = admin.post("/admin/access/standards", data={**fields, "decision/due_soon_days": "7"}, follow_redirects=False)
    assert ok.status_code == 303
    assert admin.get("/api/v1/access/standards").json()["standards"][1]["working_days"] == 45
    api = TestClient(app, headers={"Authorization": f"Bearer {_token(db, w, 'admin', 'admin')}"})
    put = api.put("/api/v1/access/standards/first_response", json={"working_days": 12, "due_soon_days": 4})
    assert put.status_code == 200 and put.json()["working_days"] == 12
    invalid = api.put("/api/v1/access/standards/first_response", json={"working_days": 3, "due_soon_days": 4})
    assert invalid.status_code == 422 and invalid.headers["content-type"].startswith("application/problem+json")
    assert api.put("/api/v1/access/standards/lunch", json={"working_days": 3, "due_soon_days": 1}).status_code == 422
    manager = TestClient(app, headers={"Authorization": f"Bearer {_token(db, w, 'manager_A', 'read')}"})
    assert manager.put("/api/v1/access/standards/decision", json={"working_days": 30, "due_soon_days": 5}
                       ).status_code == 403
    assert signed_in(app, db, w, "manager_A").get("/admin/access/standards").status_code == 403
    assert TestClient(app).get("/api/v1/access/standards").status_code == 401


def _token(db, w, who: str, scope: str) -> str:
    with db.sessions.begin() as s:
        return tokens.create_token(w.ctx(s, "system"), s.get(User, w.people[who]), "test", scope=scope)


def test_terms_partial():
    from healthgate.web.templates import templates

    partial = templates.env.get_template("access/dashboard/_terms.html")
    few = partial.render(terms=terms.Terms("https://example.org/charges", "1-2 months", 3, None, None))
    assert 'href="https://example.org/charges"' in few and "1-2 months" in few
    assert "Not enough requests yet" in few and "3 decisions" in few
    enough = partial.render(terms=terms.Terms("<b>Free</b>", None, 7, 12.0, 30.5))
    assert "median 12, 90% within 30.5" in enough and "&lt;b&gt;Free" in enough and "Not stated" in enough
