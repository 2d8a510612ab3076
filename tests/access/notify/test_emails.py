"""Who gets which email: driven through the access service (harness world), read from the outbox rows. On both
databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from healthgate.access import enquiries, messages
from healthgate.access import service as access
from healthgate.outbox.models import OutboxMessage
from healthgate.outbox.senders import resolved
from tests.access.harness import build

BASE = "https://gateway.example.org"


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


class Mailbox:
    """The emails queued since the last look, as (recipient, subject, body) with links resolved."""

    def __init__(self, db):
        self.db = db
        self.seen = 0

    def take(self) -> list[tuple[str, str, str]]:
        with self.db.sessions() as s:
            rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email",
                                                              OutboxMessage.id > self.seen)
                                  .order_by(OutboxMessage.id)))
        if rows:
            self.seen = rows[-1].id
        out = []
        for r in rows:
            p = resolved(r.payload, BASE)
            out.append((p["to"], p["subject"], p["body"]))
        return out

    def to(self) -> list[str]:
        return sorted(to for to, _, _ in self.take())


def addr(who: str) -> str:
    return f"{who.lower()}@example.org"


def test_each_step_tells_the_right_people_and_never_the_actor(db, world):
    w, box = world, Mailbox(db)
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]],
                               title="Hearts cost $5").id
    assert box.take() == []  # a draft tells nobody
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "applicant"), app_id, "invite_collaborator", {"user_id": str(w.people["collaborator"])})
    [(to, subject, body)] = box.take()
    assert to == addr("collaborator") and "collaborate" in subject
    assert f"{BASE}/applications/{app_id}" in body and "Hearts cost $5" in body

    with db.sessions.begin() as s:
        access.run(w.ctx(s, "collaborator"), app_id, "submit")
    mails = box.take()
    # the access managers of both teams (not reviewers, not the applicant side, not the stranger)
    assert sorted(m[0] for m in mails) == [addr("manager_A"), addr("manager_B")]
    by_to = {m[0]: m for m in mails}
    assert "New data access application" in by_to[addr("manager_A")][1]
    assert f"{BASE}/workspace/teams/" in by_to[addr("manager_A")][2] and str(app_id) in by_to[addr("manager_A")][2]

    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "return", {"reason": "Say more about linkage"})
    mails = box.take()
    assert sorted(m[0] for m in mails) == [addr("applicant"), addr("collaborator")]
    assert all("Say more about linkage" in body for _, _, body in mails)

    with db.sessions.begin() as s:
        access.run(w.ctx(s, "applicant"), app_id, "resubmit")
    assert box.to() == [addr("manager_A")]  # only the team that returned it

    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "assign_reviewers",
                   {"reviewers": [str(w.people["reviewer_A"]), str(w.people["manager_A"])], "due": "2026-02-01"})
    [(to, subject, body)] = box.take()  # the manager assigned themself: no email to the actor
    assert to == addr("reviewer_A") and "2026-02-01" in body

    with db.sessions.begin() as s:
        access.run(w.ctx(s, "reviewer_A"), app_id, "review", {"recommendation": "approve"})
    assert box.take() == []

    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "approve_with_conditions",
                   {"conditions": ["Outputs checked before release"]})
    mails = box.take()
    assert sorted(m[0] for m in mails) == [addr("applicant"), addr("collaborator")]
    assert all("Outputs checked before release" in b and "approved with conditions" in b for _, _, b in mails)

    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_B"), app_id, "reject", {"reason": "Out of scope"})
    mails = box.take()
    assert sorted(m[0] for m in mails) == [addr("applicant"), addr("collaborator")]
    assert all("rejected" in subject and "Out of scope" in body for _, subject, body in mails)

    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "close", {"reason": "Project ended"})
    assert box.to() == [addr("applicant"), addr("collaborator")]


def test_messages_go_to_the_other_side_and_notes_nowhere(db, world):
    w, box = world, Mailbox(db)
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]], title="T").id
        access.run(w.ctx(s, "applicant"), app_id, "invite_collaborator", {"user_id": str(w.people["collaborator"])})
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    box.take()
    with db.sessions.begin() as s:
        messages.post(w.ctx(s, "applicant"), "application", app_id, "A question for A", team_id=w.teams["A"])
    mails = box.take()
    assert [m[0] for m in mails] == [addr("manager_A")]
    assert "A question for A" not in mails[0][2]  # the email says there is a message, never what it says
    with db.sessions.begin() as s:
        messages.post(w.ctx(s, "manager_B"), "application", app_id, "An answer from B")
    assert box.to() == [addr("applicant"), addr("collaborator")]
    with db.sessions.begin() as s:
        messages.post(w.ctx(s, "manager_A"), "application", app_id, "internal", audience="team")
        messages.post(w.ctx(s, "applicant"), "application", app_id, "our own", audience="applicant")
    assert box.take() == []


def test_an_enquiry_tells_each_teams_managers_once_and_replies_go_back(db, world):
    w, box = world, Mailbox(db)
    with db.sessions.begin() as s:
        enquiry = enquiries.open_enquiry(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["A2"],
                                                                  w.datasets["B1"]],
                                         "Can we link?", "Do you hold NHS numbers?", kind="feasibility")
        enquiry_id = enquiry.id
    mails = box.take()
    assert sorted(m[0] for m in mails) == [addr("manager_A"), addr("manager_B")]
    assert all("feasibility enquiry" in subject for _, subject, _ in mails)
    assert all(f"{BASE}/workspace/teams/" in body and str(enquiry_id) in body for _, _, body in mails)
    with db.sessions.begin() as s:
        messages.post(w.ctx(s, "manager_A"), "enquiry", enquiry_id, "Yes we do")
    [(to, _, body)] = box.take()
    assert to == addr("applicant") and f"{BASE}/enquiries/{enquiry_id}" in body
    with db.sessions.begin() as s:
        messages.post(w.ctx(s, "applicant"), "enquiry", enquiry_id, "Thanks", team_id=w.teams["A"])
    assert box.to() == [addr("manager_A")]


def test_withdrawal_tells_the_custodians_whose_parts_were_open(db, world):
    w, box = world, Mailbox(db)
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]]).id
        access.run(w.ctx(s, "applicant"), app_id, "submit")
        access.run(w.ctx(s, "manager_B"), app_id, "reject", {"reason": "No"})
    box.take()
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "applicant"), app_id, "withdraw")
    assert box.to() == [addr("manager_A")]


def test_the_worker_resolves_links_with_the_configured_base_url(db, world, clock):
    from healthgate.outbox.worker import Worker

    class Recorder:
        def __init__(self):
            self.sent = []

        def send(self, email):
            self.sent.append(email)

        def close(self):
            pass

        def describe(self):
            return "recorder"

    w = world
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]], title="Price: $$5 or $base_url").id
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    recorder = Recorder()
    assert Worker(db.sessions, recorder, clock=clock, base_url=BASE + "/").drain().sent == 1
    [email] = recorder.sent
    assert email.to == ("manager_a@example.org",)
    assert f"{BASE}/workspace/teams/" in email.body and f"healthgate ({BASE})" in email.body
    assert "Price: $$5 or $base_url" in email.body  # what a person typed is never substituted
    email.to_message("hg@example.org")  # and it is a sendable message
