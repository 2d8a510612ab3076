"""Migration 0005_audit re-chains the events of an existing log under the key, and names teams, never people
or tokens, as publishers; downgrading restores the per-subject chain 0004 verified."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import sqlalchemy as sa

from healthgate import migrate
from healthgate.audit.verify import verify_log
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.db import JSONDoc, UTCDateTime
from healthgate.identity.models import Team

NOW = datetime(2026, 1, 1, tzinfo=UTC)




def _old_digest(prev, at, actor, action, subject, data) -> str:
    """0004's per-subject SHA-256 chain (audit.service before 0005)."""
    return hashlib.sha256(orjson.dumps([prev, at.isoformat(), actor, action, subject, data],
                                       option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


OLD_EVENTS = sa.Table(
    "audit_events", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime),
    *(sa.Column(c, sa.String) for c in ("actor", "action", "subject_type", "subject_id", "prev_hash", "hash")),
    sa.Column("data", JSONDoc))
EVENTS = OLD_EVENTS


def test_0005_rechains_an_existing_log_and_names_teams_as_publishers(engine):
    migrate.upgrade(engine, "0004")
    team, dataset = uuid.uuid4(), uuid.uuid4()
    old: list[dict] = []
    last: dict[str, str] = {}
    for i in range(7):
        subject = f"s{i % 3}"
        at = NOW + timedelta(minutes=i)
        data = {"n": i, "score": 1.5}
        digest = _old_digest(last.get(subject), at, "demo-admin", "dataset.draft_updated", f"dataset:{subject}", data)
        old.append({"at": at, "actor": "demo-admin", "action": "dataset.draft_updated", "subject_type": "dataset",
                    "subject_id": subject, "data": data, "prev_hash": last.get(subject), "hash": digest})
        last[subject] = digest
    with engine.begin() as c:
        c.execute(sa.insert(Team.__table__), [{"id": team, "slug": "sail", "name": "SAIL", "name_key": "sail",
                                               "created_at": NOW}])
        c.execute(sa.insert(Dataset.__table__), [{"id": dataset, "team_id": team, "status": "active",
                                                  "latest_version": 1, "created_at": NOW, "updated_at": NOW,
                                                  "row_version": 1}])
        c.execute(sa.insert(DatasetVersion.__table__), [{
            "id": uuid.uuid4(), "dataset_id": dataset, "number": 1, "published_at": NOW,
            "published_by": "Ada's admin token", "source_schema_version": "4.0.0", "document": {},
            "schema_valid": True, "schema_errors": [], "quality_score": 50.0, "medallion": "", "quality": {},
            "title": "A", "keywords": [], "facets": {}}])
        c.execute(sa.insert(OLD_EVENTS), old)
    migrate.upgrade(engine)
    with engine.connect() as c:
        report = verify_log(c)
        assert report.ok, report.problems
        assert report.checked == 7 and report.head_seq == 7
        assert [r[0] for r in c.execute(sa.text("SELECT seq FROM audit_events ORDER BY id"))] == list(range(1, 8))
        assert c.scalar(sa.text("SELECT published_by FROM dataset_versions")) == "SAIL"
    with engine.begin() as c:  # an edit now shows, where the old chain let it be re-hashed
        c.execute(sa.text("UPDATE audit_events SET actor = 'someone else' WHERE seq = 2"))
    with engine.connect() as c:
        assert verify_log(c).problems[0].seq == 2
    with engine.begin() as c:
        c.execute(sa.text("UPDATE audit_events SET actor = 'demo-admin' WHERE seq = 2"))
    migrate.downgrade(engine, "0004")
    with engine.connect() as c:
        rows = c.execute(sa.select(EVENTS.c.prev_hash, EVENTS.c.hash).order_by(EVENTS.c.id)).all()
        assert [(r.prev_hash, r.hash) for r in rows] == [(e["prev_hash"], e["hash"]) for e in old]
        assert "audit_head" not in sa.inspect(c).get_table_names()


def test_0005_on_an_empty_database_starts_a_fresh_chain(engine):
    migrate.upgrade(engine)
    with engine.connect() as c:
        report = verify_log(c)
        assert report.ok and report.checked == 0 and report.head_seq == 0
