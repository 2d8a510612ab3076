"""The audit log is one keyed hash chain with an anchored head: every way of tampering shows, naming the entry."""

from __future__ import annotations

import hashlib
import threading
import uuid

import orjson
import pytest
from sqlalchemy import delete, func, select, update

from healthgate.audit import actions, chain, keys
from healthgate.audit import service as audit
from healthgate.audit.models import AuditEvent, AuditHead
from healthgate.audit.verify import parse_checkpoint, verify_log
from healthgate.context import Context
from healthgate.identity import actors
from healthgate.identity.permissions import SYSTEM, Actor
from tests.conftest import TEST_SECRET_KEY, make_token


def _five(db, clock) -> list[uuid.UUID]:
    """Five events on two subjects, in two transactions."""
    a, b = uuid.uuid4(), uuid.uuid4()
    with db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        audit.record(ctx, "dataset.created", "dataset", a, {"n": 1})
        clock.advance(minutes=1)
        audit.record(ctx, "dataset.created", "dataset", b, {"n": 2})
    with db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        for n in (3, 4, 5):
            clock.advance(minutes=1)
            audit.record(ctx, "dataset.draft_updated", "dataset", a if n % 2 else b, {"n": n, "score": 1.0})
    return [a, b]


def _report(db, **kw):
    with db.sessions() as s:
        return verify_log(s, **kw)


def _by_seq(s, seq: int) -> AuditEvent:
    return s.scalar(select(AuditEvent).where(AuditEvent.seq == seq))


def test_an_untouched_log_verifies_and_history_reads_back(db, clock):
    a, b = _five(db, clock)
    report = _report(db)
    assert report.ok, report.problems
    assert report.checked == 5 and report.head_seq == 5
    with db.sessions() as s:
        assert [e.data["n"] for e in audit.history(s, "dataset", a)] == [1, 3, 5]
        assert [e.seq for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [1, 2, 3, 4, 5]
        assert audit.verify(s) and audit.verify(s, "dataset", b)
        first = audit.history(s, "dataset", a)[0]
        assert first.at == clock.now().replace(minute=30) and first.at.utcoffset().total_seconds() == 0


def _edit_middle(s):
    s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(data={"n": 30, "score": 1.0}))


def _edit_and_recompute_unkeyed(s):
    """The attack a plain hash chain cannot see: change an entry and recompute every later hash and the head.
    Without the key the attacker can only guess at the hash function: here SHA-256 of the same content."""
    prev = _by_seq(s, 2).hash
    for seq in (3, 4, 5):
        e = _by_seq(s, seq)
        data = {"n": 30, "score": 1.0} if seq == 3 else e.data
        digest = hashlib.sha256(orjson.dumps([seq, prev, e.action, data])).hexdigest()
        s.execute(update(AuditEvent).where(AuditEvent.id == e.id).values(data=data, prev_hash=prev, hash=digest))
        prev = digest
    s.execute(update(AuditHead).values(hash=prev))


def _edit_and_recompute_wrong_key(s):
    key = keys.derive("a guess at the secret key")
    prev = _by_seq(s, 2).hash
    for seq in (3, 4, 5):
        e = _by_seq(s, seq)
        data = {"n": 30, "score": 1.0} if seq == 3 else e.data
        digest = chain.entry_hash(key, seq=seq, prev_hash=prev, at=e.at, actor_id=e.actor_id, actor=e.actor,
                                  token_id=e.token_id, action=e.action, subject_type=e.subject_type,
                                  subject_id=e.subject_id, data=data)
        s.execute(update(AuditEvent).where(AuditEvent.id == e.id).values(data=data, prev_hash=prev, hash=digest))
        prev = digest
    s.execute(update(AuditHead).values(hash=prev, mac=chain.head_mac(key, 5, prev)))


def _delete_middle(s):
    s.execute(delete(AuditEvent).where(AuditEvent.seq == 3))


def _delete_newest(s):
    s.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))


def _delete_newest_and_rewind_head(s):
    s.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))
    s.execute(update(AuditHead).values(seq=3, hash=_by_seq(s, 3).hash))


def _delete_everything(s):
    s.execute(delete(AuditEvent))


def _delete_everything_and_reset_head(s):
    s.execute(delete(AuditEvent))
    s.execute(update(AuditHead).values(seq=0, hash=None))


def _insert_at_end(s):
    last = _by_seq(s, 5)
    s.add(AuditEvent(seq=6, at=last.at, actor="system", action="dataset.published", subject_type="dataset",
                     subject_id=last.subject_id, data={}, prev_hash=last.hash, hash="0" * 64))


def _insert_in_middle(s):
    """Renumber the later entries to make room, then slip one in."""
    for seq in (5, 4, 3):
        s.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(seq=seq + 1))
    two = _by_seq(s, 2)
    s.add(AuditEvent(seq=3, at=two.at, actor="system", action="dataset.published", subject_type="dataset",
                     subject_id=two.subject_id, data={}, prev_hash=two.hash, hash="0" * 64))


def _swap(s):
    three, four = _by_seq(s, 3), _by_seq(s, 4)
    d3, d4 = three.data, four.data
    s.execute(update(AuditEvent).where(AuditEvent.id == three.id).values(data=d4))
    s.execute(update(AuditEvent).where(AuditEvent.id == four.id).values(data=d3))


def _drop_head(s):
    s.execute(delete(AuditHead))


TAMPERING = {
    "edit": (_edit_middle, [3], "was edited"),
    "edit, then recompute later hashes without the key": (_edit_and_recompute_unkeyed, [3], "was edited"),
    "edit, then recompute later hashes with a guessed key": (_edit_and_recompute_wrong_key, [3], "was edited"),
    "delete an entry": (_delete_middle, [4], "entry #3 missing (deleted)"),
    "delete the newest entries": (_delete_newest, [None], "entries #4 to #5 missing"),
    "delete the newest entries and rewind the head": (_delete_newest_and_rewind_head, [None], "changed by hand"),
    "delete every entry": (_delete_everything, [None], "entries #1 to #5 missing"),
    "delete every entry and reset the head": (_delete_everything_and_reset_head, [None], "changed by hand"),
    "insert after the newest": (_insert_at_end, [6], "past the head"),
    "insert between two entries": (_insert_in_middle, [3], "was edited"),
    "swap two entries' content": (_swap, [3], "was edited"),
    "delete the head": (_drop_head, [None], "head row is missing"),
}


@pytest.mark.parametrize("name", list(TAMPERING))
def test_tampering_shows_and_names_the_entry(db, clock, name):
    tamper, first_seq, words = TAMPERING[name]
    _five(db, clock)
    with db.sessions.begin() as s:
        tamper(s)
    report = _report(db)
    assert not report.ok
    assert report.problems[0].seq in (first_seq[0], 5 if first_seq[0] is None else first_seq[0]) or \
        first_seq[0] is None
    assert any(words in p.message for p in report.problems), report.problems
    if first_seq[0] is not None:
        named = report.problems[0]
        assert named.seq == first_seq[0] and f"entry #{first_seq[0]}" in named.message
        assert named.event_id is not None and named.subject is not None
    with db.sessions() as s:
        assert not audit.verify(s)


def test_deleting_the_newest_events_of_one_subject_shows(db, clock):
    """The per-subject chain this replaces could not see this: the subject's remaining events still chain."""
    a, _ = _five(db, clock)
    with db.sessions.begin() as s:
        newest = s.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.subject_id == str(a)))
        s.execute(delete(AuditEvent).where(AuditEvent.seq == newest))
    with db.sessions() as s:
        assert not audit.verify(s, "dataset", a)
    assert "the newest entry #5 missing" in _report(db).problems[0].message


def test_the_wrong_key_is_named_as_such(db, clock):
    _five(db, clock)
    report = _report(db, key=keys.derive("not the deployment's secret"))
    assert [p.message for p in report.problems] == [report.problems[0].message]
    assert "written with another key" in report.problems[0].message
    assert _report(db, key=keys.derive(TEST_SECRET_KEY)).ok


def test_a_kept_checkpoint_catches_a_rewrite_by_someone_holding_the_key(db, clock):
    _five(db, clock)
    checkpoint = parse_checkpoint(_report(db).checkpoint or "")
    assert checkpoint[0] == 5
    key = keys.derive(TEST_SECRET_KEY)
    with db.sessions.begin() as s:  # the key holder cuts the log back and re-signs the head
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))
        three = _by_seq(s, 3).hash
        s.execute(update(AuditHead).values(seq=3, hash=three, mac=chain.head_mac(key, 3, three)))
    assert _report(db).ok
    report = _report(db, checkpoints=[checkpoint])
    assert not report.ok and "entry #5 of a kept checkpoint is missing" in report.problems[0].message
    with db.sessions.begin() as s:  # everything deleted and the head made to look like a fresh log's
        s.execute(delete(AuditEvent))
        s.execute(update(AuditHead).values(seq=0, hash=None, mac=None, key_id=None))
    assert _report(db).ok  # only a checkpoint kept elsewhere can tell this from a new installation
    assert "entry #5 of a kept checkpoint is missing" in _report(db, checkpoints=[checkpoint]).problems[0].message
    with pytest.raises(ValueError, match="SEQ:HASH"):
        parse_checkpoint("5")


def test_an_undeclared_action_is_refused(db, clock):
    with db.sessions.begin() as s:
        with pytest.raises(actions.UndeclaredAction, match="thing.happened"):
            audit.record(Context(s, SYSTEM, clock), "thing.happened", "thing", 1)
        with pytest.raises(actions.UndeclaredAction):
            audit.record_new_many(Context(s, SYSTEM, clock), "thing.happened", "thing", [(1, {})], at=clock.now())
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


@pytest.mark.parametrize("data", [
    {"password": "hunter2"}, {"nested": {"token_hash": "abc"}}, {"value": "hg_" + "x" * 40},
    {"list": ["$argon2id$v=19$m=65536,t=3,p=4$salt$hash"]}, {"session_id": "abc"},
])
def test_secrets_never_reach_the_log(db, clock, data):
    with db.sessions.begin() as s:
        with pytest.raises(audit.SecretInAuditData):
            audit.record(Context(s, SYSTEM, clock), "user.updated", "user", 1, data)
        with pytest.raises(audit.SecretInAuditData):
            audit.record_new_many(Context(s, SYSTEM, clock), "user.updated", "user", [(1, data)], at=clock.now())


def test_an_event_names_the_person_their_label_and_the_token(db, clock):
    with db.sessions.begin() as s:
        token = make_token(s, clock, "ci token", admin=True)
        actor = actors.actor_for_token(s, token, clock)
        audit.record(Context(s, actor, clock), "team.created", "team", "t1", {"name": "SAIL"})
        audit.record(Context(s, SYSTEM, clock), "team.updated", "team", "t1", {})
    with db.sessions() as s:
        by_person, by_system = audit.history(s, "team", "t1")
        assert by_person.actor_id == actor.user_id and by_person.actor == "ci token"
        assert by_person.token_id == actor.token_id and by_person.token_id is not None
        assert by_system.actor_id is None and by_system.actor == "system" and by_system.token_id is None
        assert token not in str([by_person.data, by_person.actor]) and audit.verify(s)


def test_a_bulk_import_is_one_insert_in_the_same_chain(db, clock):
    _five(db, clock)
    items = [(uuid.uuid4(), {"version": 1, "source": f"row {i}"}) for i in range(3000)]
    with db.sessions.begin() as s:
        audit.record_new_many(Context(s, SYSTEM, clock), "dataset.imported", "dataset", items, at=clock.now())
        audit.record(Context(s, SYSTEM, clock), "team.created", "team", "t", {})
    report = _report(db)
    assert report.ok and report.checked == 3006 and report.head_seq == 3006


def test_a_rolled_back_transaction_leaves_the_chain_as_it_was(db, clock):
    _five(db, clock)
    with db.sessions() as s:
        audit.record(Context(s, SYSTEM, clock), "team.created", "team", "t", {})
        s.rollback()
    with db.sessions.begin() as s, s.begin_nested() as savepoint:
        audit.record(Context(s, SYSTEM, clock), "team.created", "team", "t", {})
        savepoint.rollback()
    report = _report(db)
    assert report.ok and report.head_seq == 5


def test_a_row_inserted_by_hand_is_reported_and_never_adopted_into_the_chain(db, clock):
    _five(db, clock)
    with db.sessions.begin() as s:  # as a forger would: a plausible row, no place in the chain
        s.add(AuditEvent(at=clock.now(), actor="system", action="dataset.published", subject_type="dataset",
                         subject_id="x", data={}))
    with db.sessions.begin() as s:  # a later writer's commit chains its own events only
        audit.record(Context(s, SYSTEM, clock), "team.created", "team", "t", {})
    report = _report(db)
    assert [p.message.split(":")[0] for p in report.problems] == [
        report.problems[0].message.split(":")[0]] and "is not in the chain" in report.problems[0].message
    assert report.problems[0].seq is None and report.head_seq == 6


def test_events_are_read_back_in_their_own_transaction_and_chained_at_commit(db, clock):
    with db.sessions() as s:
        audit.record(Context(s, SYSTEM, clock), "team.created", "team", "t", {"n": 1})
        [pending] = audit.history(s, "team", "t")
        assert pending.seq is None and pending.data == {"n": 1}
        s.commit()
    with db.sessions() as s:
        [chained] = audit.history(s, "team", "t")
        assert chained.seq == 1 and chained.hash and audit.verify(s)


def test_an_open_transaction_does_not_hold_the_head(db, clock):
    """A long transaction (an import) that has recorded events does not make other writers wait: the head is
    locked only while a transaction commits."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite has one writer at a time anyway")
    long = db.sessions()
    audit.record(Context(long, SYSTEM, clock), "dataset.imported", "dataset", "long", {})
    done = threading.Event()

    def other() -> None:
        with db.sessions.begin() as s:
            audit.record(Context(s, SYSTEM, clock), "team.created", "team", "quick", {})
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert done.wait(10), "the second writer waited for the first one's transaction"
    thread.join()
    long.commit()
    long.close()
    with db.sessions() as s:
        assert [e.subject_id for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))] == ["quick", "long"]
    assert _report(db).ok


def test_concurrent_writers_queue_on_the_head(db, clock):
    """Eight threads, each appending in its own transactions: one chain, no fork, no gap, nothing lost."""
    _five(db, clock)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with db.sessions.begin() as s:
                    ctx = Context(s, Actor(name=f"writer {n}", user_id=uuid.uuid4()), clock)
                    audit.record(ctx, "dataset.draft_updated", "dataset", f"{n}", {"i": i})
                    if i % 3 == 0:
                        audit.record_new_many(ctx, "dataset.imported", "dataset",
                                              [(f"{n}-{i}-{j}", {}) for j in range(5)], at=clock.now())
        except Exception as exc:  # noqa: BLE001  (reported below, in the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    report = _report(db)
    assert report.ok, report.problems[:3]
    assert report.checked == 5 + 8 * 10 + 8 * 4 * 5 == report.head_seq
