"""Two ``healthgate worker`` processes on one database deliver 1,000 queued emails to a local SMTP sink: none
sent twice, none lost, both taking part (PostgreSQL: SKIP LOCKED claims; SQLite: one claimer at a time)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from healthgate.outbox.models import OutboxMessage
from tests.outbox.harness import deliver_with_workers


def test_two_worker_processes_deliver_1000_emails_once_each(db, tmp_path):
    result = deliver_with_workers(db.url, 1000, 2, tmp_path)
    print(f"\n{db.dialect}: 1000 emails by 2 workers in {result.seconds:.2f} s ({result.rate:.0f}/s), "
          f"duplicates {result.duplicates}, lost {result.lost}, per worker {sorted(result.per_worker.values())}")
    assert result.exit_codes == [0, 0]  # both stopped cleanly on SIGTERM
    counts = Counter(result.received_ids)
    assert [i for i, c in counts.items() if c > 1] == []  # none sent twice
    assert sorted(counts) == sorted(result.queued_ids)  # none lost, nothing else sent
    with db.sessions() as session:
        statuses = dict(session.execute(select(OutboxMessage.status, func.count())
                                        .group_by(OutboxMessage.status)).all())
        attempts = set(session.scalars(select(OutboxMessage.attempts).distinct()))
    assert statuses == {"sent": 1000}
    assert attempts == {1}  # each message claimed exactly once
    assert len(result.per_worker) == 2 and all(n > 0 for n in result.per_worker.values()), result.per_worker
    assert sum(result.per_worker.values()) == 1000
