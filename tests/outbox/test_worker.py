"""The worker through its public operations, on SQLite and PostgreSQL, with a clock the tests move."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from healthgate.audit.models import AuditEvent
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.errors import Forbidden, Invalid, Unauthorized
from healthgate.identity.permissions import ANONYMOUS, SYSTEM, Actor
from healthgate.outbox import service
from healthgate.outbox.models import OutboxMessage
from healthgate.outbox.senders import Email, PermanentFailure, TransientFailure
from healthgate.outbox.worker import Policy, Worker

LEASE = timedelta(minutes=5)


class Recorder:
    """A sender that keeps what it was given; ``fail`` (a callable given the email) may raise."""

    def __init__(self, fail=None, on_send=None):
        self.sent: list[Email] = []
        self.fail = fail
        self.on_send = on_send
        self.lock = threading.Lock()
        self.closed = 0

    def send(self, email: Email) -> None:
        email.to_message("healthgate <noreply@healthgate.test>")  # what a real sender does first
        if self.on_send:
            self.on_send(email)
        if self.fail:
            self.fail(email)
        with self.lock:
            self.sent.append(email)

    def close(self) -> None:
        self.closed += 1

    def describe(self) -> str:
        return "recorder"

    def ids(self) -> list[int]:
        return [e.outbox_id for e in self.sent]


def queue(db, clock, n: int = 1, **payload) -> list[int]:
    with transaction(db.sessions) as session:
        ctx = Context(session, SYSTEM, clock)
        rows = [service.enqueue(ctx, "email", {"to": f"p{i}@example.org", "subject": f"Hello {i}",
                                               "body": "Text.", **payload}) for i in range(n)]
        session.flush()
        return [r.id for r in rows]


def rows(db) -> dict[int, OutboxMessage]:
    with db.sessions() as session:
        return {r.id: r for r in session.scalars(select(OutboxMessage))}


def worker(db, clock, sender, name: str = "w1", **policy) -> Worker:
    return Worker(db.sessions, sender, clock=clock, name=name, policy=Policy(**{"lease": LEASE, **policy}))


def test_delivers_each_due_message_and_records_it(db, clock):
    ids = queue(db, clock, 3)
    sender = Recorder()
    tally = worker(db, clock, sender).drain()
    assert (tally.sent, tally.retried, tally.dead, tally.lost) == (3, 0, 0, 0)
    assert sender.ids() == ids
    assert sender.sent[0].to == ("p0@example.org",) and sender.sent[0].subject == "Hello 0"
    for row in rows(db).values():
        assert (row.status, row.attempts, row.sent_at, row.claimed_by, row.claimed_until) == \
            ("sent", 1, clock.now(), "w1", None)
    assert worker(db, clock, sender).drain().claimed == 0  # nothing is sent twice
    assert len(sender.sent) == 3


def test_a_message_queued_in_a_rolled_back_transaction_is_never_sent(db, clock):
    with pytest.raises(RuntimeError), transaction(db.sessions) as session:
        service.enqueue_email(Context(session, SYSTEM, clock), "a@example.org", "Hi", "Body")
        raise RuntimeError("the change that caused the email failed")
    sender = Recorder()
    assert worker(db, clock, sender).drain().claimed == 0 and sender.sent == []


def test_transient_failures_back_off_exponentially_then_the_message_is_dead(db, clock):
    [mid] = queue(db, clock)
    calls = []

    def fail(email):
        calls.append(clock.now())
        raise TransientFailure("451 4.3.0 mailbox busy")

    w = worker(db, clock, Recorder(fail), max_attempts=3, backoff_base=timedelta(seconds=30))
    start = clock.now()
    assert w.drain().retried == 1
    row = rows(db)[mid]
    assert (row.status, row.attempts, row.last_error, row.claimed_until) == \
        ("pending", 1, "451 4.3.0 mailbox busy", None)
    assert row.next_attempt_at == start + timedelta(seconds=30)
    assert w.drain().claimed == 0  # not due yet
    clock.advance(seconds=29)
    assert w.drain().claimed == 0
    clock.advance(seconds=1)
    assert w.drain().retried == 1
    assert rows(db)[mid].next_attempt_at == clock.now() + timedelta(seconds=60)  # doubled
    clock.advance(seconds=60)
    assert w.drain().dead == 1
    row = rows(db)[mid]
    assert (row.status, row.attempts, row.last_error, row.sent_at) == ("dead", 3, "451 4.3.0 mailbox busy", None)
    clock.advance(days=30)
    assert w.drain().claimed == 0  # a dead message is never tried again
    assert calls == [start, start + timedelta(seconds=30), start + timedelta(seconds=90)]


def test_backoff_is_capped():
    policy = Policy(backoff_base=timedelta(seconds=30), backoff_max=timedelta(hours=1))
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 7, 8, 50)] == [30, 60, 120, 1920, 3600, 3600]


def test_a_message_that_fails_once_is_sent_on_the_retry(db, clock):
    [mid] = queue(db, clock)
    failures = iter([TransientFailure("connection refused")])

    def fail(email):
        exc = next(failures, None)
        if exc:
            raise exc

    sender = Recorder(fail)
    w = worker(db, clock, sender)
    w.drain()
    clock.advance(seconds=30)
    assert w.drain().sent == 1
    row = rows(db)[mid]
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "connection refused")  # the error is kept
    assert sender.ids() == [mid]


def test_permanent_failures_are_dead_at_once_with_their_reason(db, clock):
    [bad_header] = queue(db, clock, subject="Hello\nBcc: everyone@example.org")
    [no_recipient] = queue(db, clock, to=[])
    with transaction(db.sessions) as session:
        strange = service.enqueue(Context(session, SYSTEM, clock), "carrier-pigeon", {"to": "x"})
        session.flush()
        strange_id = strange.id
    [refused] = queue(db, clock, to="nobody@example.org")

    def fail(email):
        if email.to == ("nobody@example.org",):
            raise PermanentFailure("the SMTP server answered 550 5.1.1 no such user")

    sender = Recorder(fail)
    tally = worker(db, clock, sender, max_attempts=5).drain()
    assert (tally.sent, tally.dead) == (0, 4)
    found = rows(db)
    assert all(found[i].status == "dead" and found[i].attempts == 1
               for i in (bad_header, no_recipient, strange_id, refused))
    assert "Subject header cannot be sent" in found[bad_header].last_error
    assert "no recipient" in found[no_recipient].last_error
    assert found[strange_id].last_error == "no handler for messages of kind 'carrier-pigeon'"
    assert "550 5.1.1 no such user" in found[refused].last_error
    assert sender.sent == []


def test_an_unexpected_error_in_a_handler_is_retried_and_does_not_stop_the_others(db, clock):
    ids = queue(db, clock, 3)

    def fail(email):
        if email.outbox_id == ids[1]:
            raise KeyError("bug")

    sender = Recorder(fail)
    tally = worker(db, clock, sender).drain()
    assert (tally.sent, tally.retried) == (2, 1)
    assert rows(db)[ids[1]].last_error == "unexpected error: KeyError: 'bug'"
    assert sender.ids() == [ids[0], ids[2]]


def test_a_crashed_workers_messages_are_delivered_once_its_lease_runs_out(db, clock):
    ids = queue(db, clock, 3)
    crashed = worker(db, clock, Recorder(), name="crashed")
    batch = crashed.claim_batch()  # ... and the process dies before sending anything
    assert [m.id for m in batch.messages] == ids
    other = Recorder()
    rescuer = worker(db, clock, other, name="rescuer")
    assert rescuer.drain().claimed == 0  # leased: not taken while the lease runs
    clock.advance(minutes=4, seconds=59)
    assert rescuer.drain().claimed == 0
    clock.advance(seconds=1)
    assert rescuer.drain().sent == 3
    assert other.ids() == ids
    assert {r.claimed_by for r in rows(db).values()} == {"rescuer"}
    assert {r.attempts for r in rows(db).values()} == {2}  # the crashed attempt counts
    # the crashed worker, were it only stalled, finds on waking that the messages are no longer its own
    late = Recorder()
    crashed.sender = late
    tally = crashed.deliver(batch)
    assert late.sent == [] and tally.lost == 3 and tally.sent == 0
    assert {r.status for r in rows(db).values()} == {"sent"}


def test_a_long_batch_renews_its_lease_so_no_other_worker_takes_the_rest(db, clock):
    ids = queue(db, clock, 4)
    other = Recorder()
    rival = worker(db, clock, other, name="rival")
    taken = []

    def slow(email):  # each send takes 40% of the lease, and the rival looks for work meanwhile
        clock.advance(seconds=LEASE.total_seconds() * 0.4)
        taken.append(rival.drain().claimed)

    sender = Recorder(on_send=slow)
    tally = worker(db, clock, sender, name="slow").drain()
    assert tally.sent == 4 and sender.ids() == ids
    assert other.sent == [] and taken == [0, 0, 0, 0]  # without renewal the rival would take the 3rd and 4th


def test_a_worker_that_dies_on_the_last_attempt_leaves_the_message_dead(db, clock):
    [mid] = queue(db, clock)
    w = worker(db, clock, Recorder(lambda e: (_ for _ in ()).throw(TransientFailure("down"))), max_attempts=2)
    w.drain()
    clock.advance(seconds=30)
    worker(db, clock, Recorder(), name="dies", max_attempts=2).claim_batch()  # second attempt, then a crash
    clock.advance(minutes=6)
    sender = Recorder()
    assert worker(db, clock, sender, name="after", max_attempts=2).drain().dead == 1
    row = rows(db)[mid]
    assert row.status == "dead" and "lease ran out" in row.last_error and sender.sent == []


def test_stopping_gives_back_the_rest_of_the_batch(db, clock):
    ids = queue(db, clock, 5)
    stop = threading.Event()
    sender = Recorder(on_send=lambda e: stop.set())
    tally = worker(db, clock, sender, name="stopping").drain(stop)
    assert tally.sent == 1 and sender.ids() == [ids[0]]
    rest = [rows(db)[i] for i in ids[1:]]
    assert all((r.status, r.claimed_by, r.claimed_until, r.attempts) == ("pending", None, None, 0) for r in rest)
    other = Recorder()
    assert worker(db, clock, other, name="next").drain().sent == 4  # at once, no lease to wait out
    assert other.ids() == ids[1:]


def test_concurrent_workers_send_every_message_exactly_once(db, clock):
    ids = queue(db, clock, 300)
    sender = Recorder()
    workers = [worker(db, clock, sender, name=f"w{i}", batch_size=7) for i in range(4)]
    errors = []

    def run(w):
        try:
            w.drain()
        except Exception as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    counts = Counter(sender.ids())
    assert sorted(counts) == ids and set(counts.values()) == {1}
    assert {r.status for r in rows(db).values()} == {"sent"}
    assert {r.attempts for r in rows(db).values()} == {1}


def test_postgresql_claims_skip_rows_another_worker_has_locked(db, clock):
    if db.dialect != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite claimers take the write lock one at a time")
    ids = queue(db, clock, 4)
    # the worker's own connections give up on a lock after 5 s: a claim that waited would fail, not hang
    patient = make_engine(db.url, connect_args={"options": "-c lock_timeout=5000"})
    try:
        with db.engine.connect() as other:
            other.execute(text("SELECT id FROM outbox WHERE id IN (:a, :b) FOR UPDATE"),
                          {"a": ids[0], "b": ids[1]})
            claimed = Worker(make_sessionmaker(patient), Recorder(), clock=clock, name="skipper").claim()
            other.rollback()
    finally:
        patient.dispose()
    assert [m.id for m in claimed] == ids[2:]


def test_a_commit_that_queues_a_message_wakes_in_process_workers(db, clock):
    wake = threading.Event()
    service.add_waker(wake)
    try:
        with pytest.raises(RuntimeError), transaction(db.sessions) as session:
            service.enqueue_email(Context(session, SYSTEM, clock), "a@example.org", "Hi", "Body")
            raise RuntimeError("rolled back")
        assert not wake.is_set()
        with transaction(db.sessions) as session:
            session.execute(select(1))
        assert not wake.is_set()  # a commit that queued nothing
        queue(db, clock)
        assert wake.is_set()
    finally:
        service.remove_waker(wake)


def test_an_admin_sends_dead_messages_again_and_it_is_audited(db, clock):
    ids = queue(db, clock, 3)
    w = worker(db, clock, Recorder(lambda e: (_ for _ in ()).throw(PermanentFailure("550 no"))))
    assert w.drain().dead == 3
    with transaction(db.sessions) as session:
        ctx = Context(session, SYSTEM, clock)
        assert service.counts(ctx).dead == 3
        assert [m.id for m in service.dead_messages(ctx)] == ids
        with pytest.raises(Invalid) as refused:
            service.retry_dead(ctx, [ids[0], 999999])
        assert [e.path for e in refused.value.errors] == ["id 999999"]
    for actor, error in ((ANONYMOUS, Unauthorized), (Actor(name="a researcher", user_id=uuid.uuid4()), Forbidden)):
        with pytest.raises(error), transaction(db.sessions) as session:
            service.retry_dead(Context(session, actor, clock), [ids[0]])
    with transaction(db.sessions) as session:
        assert service.retry_dead(Context(session, SYSTEM, clock), [ids[0]]) == [ids[0]]
    row = rows(db)[ids[0]]
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, clock.now())
    with db.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "outbox.retried")).all()
        assert [(e.subject_type, e.subject_id, e.actor) for e in events] == [("outbox_message", str(ids[0]), "system")]
    sender = Recorder()
    assert worker(db, clock, sender, name="again").drain().sent == 1 and sender.ids() == [ids[0]]
    with transaction(db.sessions) as session:
        assert service.retry_dead(Context(session, SYSTEM, clock)) == ids[1:]
        counts = service.counts(Context(session, SYSTEM, clock))
    assert (counts.pending, counts.sent, counts.dead) == (2, 1, 0)


def test_the_run_loop_survives_a_database_it_cannot_reach_and_stops_when_told(tmp_path, clock):
    broken = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    w = Worker(make_sessionmaker(broken), Recorder(), clock=clock, name="patient")
    stop, errors = threading.Event(), []

    def on_error(exc):
        errors.append(exc)
        if len(errors) == 2:
            stop.set()

    thread = threading.Thread(target=w.run, args=(stop, 0.01), kwargs={"on_error": on_error})
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and len(errors) == 2  # kept going after the first error, stopped on request
    broken.dispose()
