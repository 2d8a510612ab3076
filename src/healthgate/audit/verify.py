"""Check the whole audit log against its chain and its head, naming every entry that does not fit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from healthgate.audit import chain, keys
from healthgate.audit.models import AuditEvent, AuditHead
from healthgate.audit.service import HEAD_ID, chain_pending


@dataclass(frozen=True)
class Problem:
    message: str
    seq: int | None = None  # the entry's place in the chain
    event_id: int | None = None
    subject: tuple[str, str] | None = None  # (type, id) of the entry named, None for the log as a whole


@dataclass
class Report:
    checked: int = 0
    head_seq: int | None = None
    head_hash: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def checkpoint(self) -> str | None:
        """``SEQ:HASH`` of the head: kept somewhere else, a later ``verify --checkpoint`` proves the log still
        holds it (no truncation or rewrite below it, even by someone holding the key)."""
        return f"{self.head_seq}:{self.head_hash}" if self.head_seq else None


def _name(row: Any) -> str:
    where = f"entry #{row.seq} (id {row.id}, " if row.seq is not None else f"entry id {row.id} ("
    return f"{where}{row.action} on {row.subject_type} {row.subject_id}, at {row.at.isoformat()})"


def parse_checkpoint(text: str) -> tuple[int, str]:
    seq, sep, digest = text.strip().partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise ValueError(f"a checkpoint is SEQ:HASH (as `healthgate audit verify` prints it), not {text!r}")
    return int(seq), digest.lower()


def verify_log(session: Session | Connection, *, key: bytes | None = None,
               checkpoints: Iterable[tuple[int, str]] = (), batch: int = 5000) -> Report:
    """Walk the log in chain order. Each entry must carry the next number, link to the previous entry's hash
    and hash to its own content under the key; the last must be the one the head names, and the head's MAC
    must hold. ``checkpoints``: (seq, hash) pairs printed earlier, that the log must still contain."""
    if isinstance(session, Session):
        chain_pending(session)  # inside a writing transaction: its own events join the chain first
    conn = session.connection() if isinstance(session, Session) else session
    key = key or keys.for_connection(conn)
    report = Report()
    head = conn.execute(select(AuditHead).where(AuditHead.id == HEAD_ID)).one_or_none()
    if head is None:
        report.problems.append(Problem("the chain's head row is missing (deleted): the newest entries cannot "
                                       "be vouched for"))
    else:
        report.head_seq, report.head_hash = head.seq, head.hash
        if head.key_id is not None and head.key_id != keys.key_id(key):
            report.problems.append(Problem(
                f"the log was written with another key (fingerprint {head.key_id}; this key's is "
                f"{keys.key_id(key)}): verify with the deployment's HEALTHGATE_SECRET_KEY"))
            return report
    wanted = dict(checkpoints)
    expected, prev, last = 1, None, None
    stmt = (select(AuditEvent.__table__).order_by(AuditEvent.seq.nulls_last(), AuditEvent.id)
            .execution_options(yield_per=batch))
    for row in conn.execute(stmt):
        report.checked += 1
        subject = (row.subject_type, row.subject_id)
        if row.seq is None:
            report.problems.append(Problem(f"{_name(row)} is not in the chain: it was inserted outside the audit "
                                           "service", None, row.id, subject))
            continue
        if row.seq != expected:
            gap = f"entry #{expected}" if row.seq == expected + 1 else f"entries #{expected} to #{row.seq - 1}"
            report.problems.append(Problem(f"{gap} missing (deleted) before {_name(row)}", row.seq, row.id,
                                           subject))
        elif not chain.same(row.prev_hash, prev):
            report.problems.append(Problem(
                f"{_name(row)} does not link to the entry before it: an entry was inserted or replaced here",
                row.seq, row.id, subject))
        if not chain.same(row.hash, chain.row_hash(key, row)):
            report.problems.append(Problem(f"{_name(row)} was edited: its content does not match its hash",
                                           row.seq, row.id, subject))
        if row.seq in wanted and not chain.same(row.hash, wanted.pop(row.seq)):
            report.problems.append(Problem(f"{_name(row)} differs from the checkpoint kept for #{row.seq}: the "
                                           "log was rewritten", row.seq, row.id, subject))
        expected, prev, last = row.seq + 1, row.hash, row
    last_seq = last.seq if last is not None else 0
    for seq in sorted(wanted):
        report.problems.append(Problem(f"entry #{seq} of a kept checkpoint is missing: the log was cut back "
                                       f"(it now ends at #{last_seq})", seq))
    if head is None:
        return report
    if head.seq > last_seq:
        gap = f"entry #{head.seq}" if head.seq == last_seq + 1 else f"entries #{last_seq + 1} to #{head.seq}"
        report.problems.append(Problem(f"the newest {gap} missing (deleted): the head says the log ends at "
                                       f"#{head.seq}, it ends at #{last_seq}", head.seq))
    elif head.seq < last_seq and last is not None:
        report.problems.append(Problem(f"{_name(last)} is past the head (#{head.seq}): entries after #{head.seq} "
                                       "were inserted outside the audit service", last.seq, last.id,
                                       (last.subject_type, last.subject_id)))
    elif last is not None and not chain.same(head.hash, last.hash):
        report.problems.append(Problem(f"{_name(last)} is not the entry the head names: the newest entry was "
                                       "replaced", last.seq, last.id, (last.subject_type, last.subject_id)))
    written = head.seq or head.mac is not None or head.key_id is not None  # a fresh log's head has no MAC
    if written and not chain.same(head.mac, chain.head_mac(key, head.seq, head.hash)):
        report.problems.append(Problem("the head was changed by hand (its MAC does not match): entries after "
                                       f"#{head.seq} may have been deleted"))
    return report
