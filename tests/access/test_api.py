"""The access-request JSON API, on both databases: a two-custodian application through HTTP (ETag, If-Match,
409 naming the allowed commands, 412 and stale versions, 422 naming fields), what each side sees, messages
and notes, the custodian queue, enquiries, paging, and which tokens may act (a personal write token runs the
applicant's commands, a read token only reads)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthgate.access import forms
from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.errors import FieldError
from healthgate.identity import tokens
from healthgate.identity.models import User
from healthgate.identity.permissions import SYSTEM
from tests.access.harness import Q1, World, build

TEAMS = {"manager_A": "A", "reviewer_A": "A", "manager_B": "B", "reviewer_B": "B"}


@dataclass
class Api:
    client: TestClient
    w: World
    auth: dict[str, dict[str, str]]

    def call(self, who: str, method: str, url: str, body: Any = None, **headers: str) -> Any:
        return self.client.request(method, url, headers={**self.auth[who], **headers},
                                   **({"json": body} if body is not None else {}))

    def command(self, who: str, app_id: Any, command: str, body: Any = None, **headers: str) -> Any:
        return self.call(who, "POST", f"/api/v1/applications/{app_id}/commands/{command}", body, **headers)

    def create(self, *keys: str, who: str = "applicant") -> dict[str, Any]:
        answer = self.call(who, "POST", "/api/v1/applications",
                           {"dataset_ids": [str(self.w.datasets[k]) for k in keys], "title": "Heart and genes"})
        assert answer.status_code == 201, answer.text
        return answer.json()


@pytest.fixture
def api(db, clock, tmp_path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path, database_url=db.url, rate_limit_anonymous="off",
                        rate_limit_expensive="off", rate_limit_failed_auth="off")
    app = create_app(settings, clock=clock)
    w = build(app.state.sessions, clock)
    auth: dict[str, dict[str, str]] = {"anonymous": {}}
    with app.state.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        for who, user_id in w.people.items():
            team = TEAMS.get(who)
            scope = "admin" if who == "admin" else "write"  # applicants: a personal write token (no teams)
            value = tokens.create_token(ctx, s.get(User, user_id), who, scope=scope,
                                        teams=[w.teams[team]] if team else [])
            auth[who] = {"Authorization": f"Bearer {value}"}
        read = tokens.create_token(ctx, s.get(User, w.people["applicant"]), "read only", scope="read")
        auth["applicant_read"] = {"Authorization": f"Bearer {read}"}
    with TestClient(app) as client:
        yield Api(client, w, auth)
    app.state.engine.dispose()


def test_two_custodians_through_http(api):
    w = api.w
    app = api.create("A1", "B1")
    assert app["status"] == "draft" and app["parts"] == [] and app["version"] == 1
    app_id = app["id"]
    got = api.call("applicant", "GET", f"/api/v1/applications/{app_id}")
    assert got.headers["etag"] == '"v1"'
    assert api.call("applicant", "GET", f"/api/v1/applications/{app_id}",
                    **{"If-None-Match": '"v1"'}).status_code == 304
    saved = api.command("applicant", app_id, "save", {"answers": {Q1: "Outcomes after stroke"}}, **{"If-Match": '"v1"'})
    assert saved.status_code == 200, saved.text
    assert saved.headers["etag"] == '"v2"' and saved.json()["answers"] == {Q1: "Outcomes after stroke"}
    submitted = api.command("applicant", app_id, "submit", {"version": 2}).json()
    assert submitted["status"] == "submitted"
    assert {p["team_id"] for p in submitted["parts"]} == {str(w.teams["A"]), str(w.teams["B"])}
    assert all(p["reviewers"] is None for p in submitted["parts"])  # the applicant side never sees reviewers

    returned = api.command("manager_A", app_id, "return", {"reason": "Say more about linkage"})
    assert returned.status_code == 200, returned.text
    assert returned.json()["side"] == "custodian"
    assert {a["command"] for a in returned.json()["allowed"]} <= {"return", "assign_reviewers", "approve",
                                                                  "approve_with_conditions", "reject", "close"}
    mine = api.call("applicant", "GET", f"/api/v1/applications/{app_id}").json()
    assert mine["status"] == "returned"
    assert {"save", "resubmit"} <= {a["command"] for a in mine["allowed"]}
    assert api.command("collaborator", app_id, "resubmit").status_code == 404  # not invited: sees nothing
    assert api.command("applicant", app_id, "resubmit").status_code == 200

    assigned = api.command("manager_A", app_id, "assign_reviewers",
                           {"reviewers": [str(w.people["reviewer_A"])], "due": "2026-02-01"})
    assert assigned.status_code == 200, assigned.text
    part_a = next(p for p in assigned.json()["parts"] if p["team_id"] == str(w.teams["A"]))
    assert part_a["state"] == "in_review" and part_a["reviewers"] == [str(w.people["reviewer_A"])]
    reviewed = api.command("reviewer_A", app_id, "review", {"recommendation": "approve", "comment": "fine"})
    assert reviewed.status_code == 200, reviewed.text
    api.command("manager_A", app_id, "approve_with_conditions", {"conditions": ["Outputs checked"]})
    done = api.command("manager_B", app_id, "reject", {"reason": "Out of scope"})
    assert done.json()["status"] == "partly_approved"

    applicant_events = [e["type"] for e in api.call("applicant", "GET",
                                                    f"/api/v1/applications/{app_id}/events").json()]
    assert applicant_events[0] == "created" and "reviewed" not in applicant_events
    assert "reviewers_assigned" not in applicant_events
    a_events = api.call("manager_A", "GET", f"/api/v1/applications/{app_id}/events").json()
    assert "reviewed" in {e["type"] for e in a_events}
    b_events = api.call("manager_B", "GET", f"/api/v1/applications/{app_id}/events").json()
    assert all(e["team_id"] in (None, str(w.teams["B"])) for e in b_events)
    seqs = [e["seq"] for e in a_events]
    assert seqs == sorted(seqs)

    queue = api.call("manager_A", "GET", f"/api/v1/teams/{w.teams['A']}/applications").json()
    assert [i["application_id"] for i in queue["items"]] == [app_id]
    assert queue["items"][0]["state"] == "approved_with_conditions"
    none = api.call("manager_A", "GET", f"/api/v1/teams/{w.teams['A']}/applications?state=submitted").json()
    assert none["items"] == [] and none["total"] == 0
    assert api.call("manager_B", "GET", f"/api/v1/teams/{w.teams['A']}/applications").status_code == 403
    assert api.call("applicant", "GET", f"/api/v1/teams/{w.teams['A']}/applications").status_code == 403


def test_wrong_state_is_409_listing_the_allowed_commands(api):
    app_id = api.create("A1")["id"]
    refused = api.command("applicant", app_id, "resubmit")
    assert refused.status_code == 409
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert {e["message"] for e in problem["errors"]} >= {"save", "submit", "withdraw"}
    assert "allowed now" in problem["detail"]
    api.command("applicant", app_id, "submit")
    refused = api.command("applicant", app_id, "save", {"title": "too late"})
    assert refused.status_code == 409
    assert "save" not in {e["message"] for e in refused.json()["errors"]}
    assert api.command("applicant", app_id, "approve").status_code == 409  # not the applicant's to run


def test_stale_versions_lose_nothing(api):
    app_id = api.create("A1")["id"]
    assert api.command("applicant", app_id, "save", {"title": "first", "version": 1}).status_code == 200
    stale = api.command("applicant", app_id, "save", {"title": "lost update", "version": 1})
    assert stale.status_code == 409 and stale.json()["errors"][0]["path"] == "version"
    stale = api.command("applicant", app_id, "save", {"title": "lost update"}, **{"If-Match": '"v1"'})
    assert stale.status_code == 412
    assert api.call("applicant", "GET", f"/api/v1/applications/{app_id}").json()["title"] == "first"
    listed = api.command("applicant", app_id, "save", {"title": "listed"}, **{"If-Match": '"v9", "v2"'})
    assert listed.status_code == 200 and listed.headers["etag"] == '"v3"'
    both = api.command("applicant", app_id, "save", {"title": "both", "version": 3}, **{"If-Match": '"v2"'})
    assert both.status_code == 412
    assert api.command("applicant", app_id, "save", {"title": "second"}, **{"If-Match": "*"}).status_code == 200


def test_bad_input_is_422_naming_the_field(api, monkeypatch):
    app_id = api.create("A1")["id"]
    unknown = api.command("applicant", app_id, "save", {"answers": {Q1: "Outcomes"}, "colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.json()["errors"][0]["path"]
    bad = api.call("applicant", "POST", "/api/v1/applications", {"dataset_ids": [str(uuid.uuid4())]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "datasets/0"
    assert api.call("applicant", "POST", "/api/v1/applications", {"dataset_ids": []}).status_code == 422
    assert api.command("applicant", app_id, "save", {}).status_code == 422  # nothing to save
    assert api.command("applicant", app_id, "fly").status_code == 422  # no such command
    monkeypatch.setattr(forms, "missing_answers", lambda ctx, state: [
        FieldError("answers/safepeople-applicant-name", "Applicant name is required"),
        FieldError("answers/safedata-lawful-basis", "Lawful basis is required")])
    missing = api.command("applicant", app_id, "submit")
    assert missing.status_code == 422
    assert [e["path"] for e in missing.json()["errors"]] == ["answers/safepeople-applicant-name",
                                                             "answers/safedata-lawful-basis"]
    monkeypatch.undo()
    api.command("applicant", app_id, "submit")
    no_reason = api.command("manager_A", app_id, "return", {})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["path"] == "reason"
    bad_reviewer = api.command("manager_A", app_id, "assign_reviewers", {"reviewers": [str(api.w.people["stranger"])]})
    assert bad_reviewer.status_code == 422 and bad_reviewer.json()["errors"][0]["path"] == "reviewers/0"


def test_a_read_token_reads_a_personal_write_token_acts(api):
    created = api.call("applicant_read", "POST", "/api/v1/applications",
                       {"dataset_ids": [str(api.w.datasets["A1"])]})
    assert created.status_code == 403
    app_id = api.create("A1")["id"]
    seen = api.call("applicant_read", "GET", f"/api/v1/applications/{app_id}")
    assert seen.status_code == 200 and seen.json()["allowed"] == []
    assert api.command("applicant_read", app_id, "save", {"title": "no"}).status_code == 403
    assert api.call("applicant_read", "POST", f"/api/v1/applications/{app_id}/messages",
                    {"body": "note", "audience": "applicant"}).status_code == 403
    assert api.command("applicant", app_id, "save", {"title": "yes"}).status_code == 200
    assert api.call("anonymous", "GET", f"/api/v1/applications/{app_id}").status_code == 401
    assert api.call("anonymous", "GET", "/api/v1/applications").status_code == 401


def test_nobody_else_sees_an_application(api):
    app_id = api.create("A1")["id"]
    for who in ("stranger", "manager_A", "manager_B", "collaborator"):  # a draft is the applicant's alone
        assert api.call(who, "GET", f"/api/v1/applications/{app_id}").status_code == 404, who
    api.command("applicant", app_id, "submit")
    for who in ("stranger", "manager_B", "reviewer_B"):
        assert api.call(who, "GET", f"/api/v1/applications/{app_id}").status_code == 404, who
        assert api.call(who, "GET", f"/api/v1/applications/{app_id}/events").status_code == 404, who
        assert api.command(who, app_id, "approve").status_code == 404, who
    assert api.call("reviewer_A", "GET", f"/api/v1/applications/{app_id}").status_code == 200
    assert api.call("stranger", "GET", "/api/v1/applications").json()["items"] == []


def test_collaborators_edit_but_do_not_own(api):
    w = api.w
    app_id = api.create("A1")["id"]
    invited = api.command("applicant", app_id, "invite_collaborator", {"user_id": str(w.people["collaborator"])})
    assert invited.json()["collaborators"] == [str(w.people["collaborator"])]
    assert api.command("collaborator", app_id, "save", {"title": "by a collaborator"}).status_code == 200
    assert api.command("collaborator", app_id, "withdraw").status_code == 409
    listed = api.call("collaborator", "GET", "/api/v1/applications").json()
    assert [a["id"] for a in listed["items"]] == [app_id]


def test_messages_and_notes_stay_on_their_side(api):
    w = api.w
    app_id = api.create("A1", "B1")["id"]
    api.command("applicant", app_id, "submit")
    url = f"/api/v1/applications/{app_id}/messages"
    sent = api.call("applicant", "POST", url, {"body": "About linkage", "team_id": str(w.teams["A"]),
                                               "question_id": "safedata-linkage"})
    assert sent.status_code == 201 and sent.json()["question_id"] == "safedata-linkage"
    assert api.call("manager_A", "POST", url, {"body": "internal", "audience": "team"}).status_code == 201
    assert api.call("applicant", "POST", url, {"body": "mine", "audience": "applicant"}).status_code == 201
    assert api.call("applicant", "POST", url, {"body": "which team?"}).status_code == 422
    assert api.call("manager_B", "POST", url, {"body": "x", "audience": "team",
                                               "team_id": str(w.teams["A"])}).status_code == 403

    def bodies(who: str) -> set[str]:
        return {m["body"] for m in api.call(who, "GET", url).json()}
    assert bodies("applicant") == {"About linkage", "mine"}
    assert bodies("reviewer_A") == {"About linkage", "internal"}
    assert bodies("manager_B") == set()


def test_enquiries(api):
    w = api.w
    opened = api.call("applicant", "POST", "/api/v1/enquiries", {
        "dataset_ids": [str(w.datasets["A1"]), str(w.datasets["B1"])], "subject": "Feasible?",
        "body": "Do you hold echo data?", "kind": "feasibility"})
    assert opened.status_code == 201, opened.text
    enquiry = opened.json()
    assert set(enquiry["team_ids"]) == {str(w.teams["A"]), str(w.teams["B"])}
    enquiry_id = enquiry["id"]
    assert api.call("applicant", "GET", "/api/v1/enquiries").json()["total"] == 1
    assert api.call("manager_A", "GET", f"/api/v1/enquiries/{enquiry_id}").status_code == 200
    assert api.call("stranger", "GET", f"/api/v1/enquiries/{enquiry_id}").status_code == 404
    team_list = api.call("reviewer_B", "GET", f"/api/v1/teams/{w.teams['B']}/enquiries").json()
    assert [e["id"] for e in team_list["items"]] == [enquiry_id]
    reply = api.call("manager_A", "POST", f"/api/v1/enquiries/{enquiry_id}/messages", {"body": "Yes we do"})
    assert reply.status_code == 201 and reply.json()["author_side"] == "custodian"
    thread = api.call("applicant", "GET", f"/api/v1/enquiries/{enquiry_id}/messages").json()
    assert [m["body"] for m in thread].count("Do you hold echo data?") == 2 and "Yes we do" in {
        m["body"] for m in thread}
    assert {m["body"] for m in api.call("manager_B", "GET", f"/api/v1/enquiries/{enquiry_id}/messages").json()} \
        == {"Do you hold echo data?"}
    assert api.call("manager_A", "POST", f"/api/v1/enquiries/{enquiry_id}/application").status_code == 404
    converted = api.call("applicant", "POST", f"/api/v1/enquiries/{enquiry_id}/application", {"title": "Echo"})
    assert converted.status_code == 201 and converted.json()["title"] == "Echo"
    assert converted.json()["enquiry_id"] == enquiry_id
    assert api.call("applicant", "POST", f"/api/v1/enquiries/{enquiry_id}/application").status_code == 409
    assert api.call("applicant", "GET", f"/api/v1/enquiries/{enquiry_id}").json()["application_id"] == \
        converted.json()["id"]


def test_lists_page_with_links(api):
    ids = [api.create("A1")["id"] for _ in range(3)]
    first = api.call("applicant", "GET", "/api/v1/applications?per_page=2")
    body = first.json()
    assert body["total"] == 3 and len(body["items"]) == 2 and body["prev"] is None
    assert 'rel="next"' in first.headers["link"]
    second = api.client.get(body["next"], headers=api.auth["applicant"]).json()
    assert len(second["items"]) == 1 and second["next"] is None
    assert {i["id"] for i in body["items"] + second["items"]} == set(ids)
    assert api.call("applicant", "GET", "/api/v1/applications?per_page=100000").status_code == 422


def test_a_write_token_acts_for_the_teams_it_names_only(api, db, clock):
    """A reviewer of team A whose token names only team B reads A's application but may not review it."""
    from healthgate.identity.models import Membership
    from healthgate.identity.permissions import Role

    w = api.w
    app_id = api.create("A1")["id"]
    api.command("applicant", app_id, "submit")
    api.command("manager_A", app_id, "assign_reviewers", {"reviewers": [str(w.people["reviewer_A"])]})
    with db.sessions.begin() as s:
        s.add(Membership(team_id=w.teams["B"], user_id=w.people["reviewer_A"], role=Role.REVIEWER.value,
                         created_at=clock.now()))
        s.flush()
        value = tokens.create_token(Context(s, SYSTEM, clock), s.get(User, w.people["reviewer_A"]), "B only",
                                    scope="write", teams=[w.teams["B"]])
    api.auth["reviewer_A_for_B"] = {"Authorization": f"Bearer {value}"}
    seen = api.call("reviewer_A_for_B", "GET", f"/api/v1/applications/{app_id}")
    assert seen.status_code == 200 and seen.json()["allowed"] == []
    refused = api.command("reviewer_A_for_B", app_id, "review", {"recommendation": "approve"})
    assert refused.status_code == 409 and refused.json()["errors"] == []
    assert api.command("reviewer_A", app_id, "review", {"recommendation": "approve"}).status_code == 200
