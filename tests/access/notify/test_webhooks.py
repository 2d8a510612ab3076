"""Webhooks end to end: registered by a team's access manager, queued with the command that caused them,
POSTed by the outbox worker to a real receiver on 127.0.0.1, signed (verified here as a receiver would),
retried after a 500, never following a redirect; status visible to the team. On both databases."""

from __future__ import annotations

import hashlib
import hmac
import io
import json

import pytest
from sqlalchemy import func, select

from healthgate.access import service as access
from healthgate.access import webhooks
from healthgate.access.models import WebhookDelivery
from healthgate.audit.models import AuditEvent
from healthgate.errors import Conflict, Forbidden, Invalid
from healthgate.outbox.senders import ConsoleSender, WebhookSender
from healthgate.outbox.worker import Policy, Worker
from tests.access.harness import build
from tests.access.notify import receiver as receivers

BASE = "https://gateway.example.org"


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


@pytest.fixture
def receiver():
    r = receivers.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def worker(db, clock) -> Worker:
    return Worker(db.sessions, ConsoleSender("hg@example.org", io.StringIO()), clock=clock, name="w",
                  policy=Policy(max_attempts=3),
                  webhooks=WebhookSender(allow_http=True, allow_private=True, timeout=5),
                  base_url=BASE)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (docs/access-notify.md): recompute the HMAC over "<timestamp>.<body>"."""
    expected = hmac.new(secret.encode(), headers["x-healthgate-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-healthgate-signature"], f"sha256={expected}")


def submitted(db, w) -> object:
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"], w.datasets["B1"]], title="Cost $5").id
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    return app_id


def test_a_signed_delivery_is_retried_after_a_500_and_then_sent(db, world, clock, receiver):
    w = world
    with db.sessions.begin() as s:
        hook, secret = webhooks.register(w.ctx(s, "manager_A"), w.teams["A"], receiver.url + "/hook",
                                         allow_http=True)
        hook_id = hook.id
    receiver.answers["/hook"] = [500]
    app_id = submitted(db, w)
    with db.sessions() as s:  # only team A has a webhook: one delivery
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 1

    tally = worker(db, clock).drain()
    assert (tally.sent, tally.retried) == (2, 1)  # the managers' two emails went; the webhook waits
    with db.sessions() as s:
        [d] = webhooks.deliveries(w.ctx(s, "manager_A"), w.teams["A"])
        assert (d.status, d.attempts, d.event_type) == ("pending", 1, "submitted")
        assert "500" in (d.last_error or "")
    clock.advance(seconds=31)  # the first backoff
    assert worker(db, clock).drain().sent == 1
    with db.sessions() as s:
        [d] = webhooks.deliveries(w.ctx(s, "manager_A"), w.teams["A"], hook_id)
        assert (d.status, d.attempts) == ("sent", 2)

    first, second = receiver.at("/hook")
    for r in (first, second):
        assert verify(secret, r.headers, r.body)
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-healthgate-event"] == "application.submitted"
    assert first.headers["x-healthgate-event-id"] == second.headers["x-healthgate-event-id"] == str(d.id)
    assert not verify("whsec_wrong", second.headers, second.body)
    assert not verify(secret, second.headers, second.body.replace(b"submitted", b"approved"))
    body = json.loads(second.body)
    assert body["id"] == str(d.id) and body["type"] == "application.submitted"
    assert body["team"]["id"] == str(w.teams["A"])
    assert body["application"]["id"] == str(app_id) and body["application"]["title"] == "Cost $5"
    assert body["application"]["url"].startswith(f"{BASE}/workspace/teams/")
    assert body["application"]["api_url"] == f"{BASE}/api/v1/applications/{app_id}"
    assert body["application"]["datasets"] == [str(w.datasets["A1"])]  # only this team's
    assert secret not in second.body.decode()


def test_redirects_are_refused_and_a_dead_delivery_can_be_sent_again(db, world, clock, receiver):
    w = world
    with db.sessions.begin() as s:
        webhooks.register(w.ctx(s, "manager_A"), w.teams["A"], receiver.url + "/redirect", allow_http=True)
    submitted(db, w)
    assert worker(db, clock).drain().dead == 1
    assert receiver.at("/hook") == []  # never followed
    with db.sessions.begin() as s:
        [d] = webhooks.deliveries(w.ctx(s, "manager_A"), w.teams["A"])
        assert d.status == "dead" and "redirect" in (d.last_error or "")
        with pytest.raises(Forbidden):
            webhooks.send_again(w.ctx(s, "manager_B"), w.teams["A"], d.id)
        again = webhooks.send_again(w.ctx(s, "manager_A"), w.teams["A"], d.id)
        assert (again.status, again.attempts) == ("pending", 0)
    with db.sessions.begin() as s, pytest.raises(Conflict):
        webhooks.send_again(w.ctx(s, "manager_A"), w.teams["A"], d.id)  # only dead ones
    assert worker(db, clock).drain().dead == 1
    assert len(receiver.at("/redirect")) == 2


def test_events_filter_disable_and_delete(db, world, clock, receiver):
    w = world
    with db.sessions.begin() as s:
        decisions, _ = webhooks.register(w.ctx(s, "manager_A"), w.teams["A"], receiver.url + "/decisions",
                                         ["approved", "rejected"], allow_http=True)
        everything, _ = webhooks.register(w.ctx(s, "manager_A"), w.teams["A"], receiver.url + "/all",
                                          list(webhooks.EVENTS), allow_http=True)
        decisions_id, everything_id = decisions.id, everything.id
    app_id = submitted(db, w)
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "return", {"reason": "More"})
        access.run(w.ctx(s, "applicant"), app_id, "resubmit")
        webhooks.set_active(w.ctx(s, "manager_A"), w.teams["A"], everything_id, False)
        access.run(w.ctx(s, "manager_A"), app_id, "approve")
        access.run(w.ctx(s, "manager_B"), app_id, "reject", {"reason": "No"})  # B has no webhook
    worker(db, clock).drain()
    assert [json.loads(r.body)["type"] for r in receiver.at("/decisions")] == ["application.approved"]
    assert [r.headers["x-healthgate-event"] for r in receiver.at("/all")] == []  # disabled before its sends
    with db.sessions() as s:
        statuses = [d.status for d in webhooks.deliveries(w.ctx(s, "manager_A"), w.teams["A"], everything_id)]
    assert sorted(statuses) == ["dead", "dead", "dead"]  # submitted, returned, resubmitted: disabled -> dead
    with db.sessions.begin() as s:
        webhooks.delete(w.ctx(s, "manager_A"), w.teams["A"], decisions_id)
        assert [h.id for h in webhooks.for_team(w.ctx(s, "manager_A"), w.teams["A"])] == [everything_id]
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("webhook.%"))))
    assert sorted(actions) == ["webhook.created", "webhook.created", "webhook.deleted", "webhook.disabled"]


def test_registration_is_checked(db, world):
    w = world
    with db.sessions.begin() as s:
        ctx = w.ctx(s, "manager_A")
        with pytest.raises(Invalid) as bad:
            webhooks.register(ctx, w.teams["A"], "http://receiver.example.org/hook")
        assert bad.value.errors[0].path == "url" and "https" in bad.value.errors[0].message
        for url in ("ftp://x.example.org/", "https://user:pw@x.example.org/", "not a url", ""):
            with pytest.raises(Invalid):
                webhooks.register(ctx, w.teams["A"], url)
        with pytest.raises(Invalid) as bad:
            webhooks.register(ctx, w.teams["A"], "https://x.example.org/", ["submitted", "exploded"])
        assert bad.value.errors[0].path == "events/1"
        for who in ("reviewer_A", "manager_B", "applicant"):
            with pytest.raises(Forbidden):
                webhooks.register(w.ctx(s, who), w.teams["A"], "https://x.example.org/")
        hook, secret = webhooks.register(ctx, w.teams["A"], "https://x.example.org/")
        assert secret.startswith("whsec_") and hook.events == list(webhooks.DEFAULT_EVENTS)
        assert webhooks.rotate_secret(ctx, w.teams["A"], hook.id) != secret
        events = list(s.scalars(select(AuditEvent.data).where(AuditEvent.action.like("webhook.%"))))
    assert all(secret not in json.dumps(e) for e in events)


def test_the_sender_times_out_and_refuses_plain_http_unless_allowed(receiver):
    from healthgate.outbox.senders import PermanentFailure, TransientFailure

    args = {"event_id": "e1", "event": "application.submitted", "body": b"{}", "timestamp": 1}
    with pytest.raises(TransientFailure, match="within 0.3 s"):
        WebhookSender(allow_http=True, allow_private=True, timeout=0.3).send(receiver.url + "/slow", "s", **args)
    with pytest.raises(PermanentFailure, match="https"):
        WebhookSender().send(receiver.url + "/hook", "s", **args)
    receiver.answers["/hook"] = [404, 429]
    with pytest.raises(PermanentFailure, match="404"):
        WebhookSender(allow_http=True, allow_private=True).send(receiver.url + "/hook", "s", **args)
    with pytest.raises(TransientFailure, match="429"):
        WebhookSender(allow_http=True, allow_private=True).send(receiver.url + "/hook", "s", **args)
    WebhookSender(allow_http=True, allow_private=True).send(receiver.url + "/hook", "s", **args)


def test_receivers_off_the_public_internet_are_refused_unless_allowed(receiver):
    from healthgate.outbox.senders import PermanentFailure, check_webhook_url

    for url in ("https://127.0.0.1/h", "https://10.1.2.3/h", "https://169.254.169.254/latest", "https://[::1]/h",
                "https://localhost/h", "https://db.localhost/h"):
        assert "public internet" in (check_webhook_url(url, allow_http=False) or ""), url
    assert check_webhook_url("https://dar.example.org/h", allow_http=False) is None
    args = {"event_id": "e1", "event": "application.submitted", "body": b"{}", "timestamp": 1}
    https_local = receiver.url.replace("http://", "https://") + "/hook"
    with pytest.raises(PermanentFailure, match="public internet"):
        WebhookSender(allow_http=True).send(receiver.url + "/hook", "s", **args)  # checked before connecting
    with pytest.raises(PermanentFailure, match="public internet"):
        WebhookSender().send(https_local, "s", **args)
    assert receiver.at("/hook") == []
