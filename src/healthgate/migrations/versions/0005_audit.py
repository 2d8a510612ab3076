"""audit log: one keyed hash chain across the whole log, with an anchored head

Revision ID: 0005_audit
Revises: 0004
Create Date: 2026-11-24 04:40:00

Events gain ``seq`` (their place in one chain across the whole log), ``actor_id`` and ``token_id``; the
one-row ``audit_head`` names the newest entry. Existing events are re-chained in id order under the key
derived from the secret key (their per-subject SHA-256 chain could not show the deletion of a subject's
newest events, nor an edit followed by recomputing every later hash). Versions' ``published_by`` becomes
the custodian team's name: public pages and the API name the team that published, never a person or a token.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = '0005_audit'
down_revision = '0004'
branch_labels = None
depends_on = None


def _events() -> sa.Table:
    from healthgate.audit.models import AuditEvent

    return AuditEvent.__table__  # type: ignore[return-value]


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=True),
    sa.Column('mac', sa.String(length=64), nullable=True),
    sa.Column('key_id', sa.String(length=16), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('actor_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('token_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)

    _rechain(op.get_bind())

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_seq'), ['seq'])

    op.execute(sa.text(
        "UPDATE dataset_versions SET published_by = (SELECT teams.name FROM datasets JOIN teams "
        "ON teams.id = datasets.team_id WHERE datasets.id = dataset_versions.dataset_id)"))


def _rechain(conn: sa.Connection) -> None:
    """Number the existing events in id order and chain them under the deployment's key; write the head."""
    from healthgate.audit import chain, keys

    t = _events()
    cols = [t.c.id, t.c.at, t.c.actor, t.c.action, t.c.subject_type, t.c.subject_id, t.c.data]
    rows = conn.execute(sa.select(*cols).order_by(t.c.id)).all()
    head: dict[str, Any] = {"id": 1, "seq": 0, "hash": None, "mac": None, "key_id": None,
                            "updated_at": datetime.now(UTC)}
    if rows:
        key = keys.for_connection(conn)
        prev, updates = None, []
        for seq, r in enumerate(rows, start=1):
            digest = chain.entry_hash(key, seq=seq, prev_hash=prev, at=r.at, actor_id=None, actor=r.actor,
                                      token_id=None, action=r.action, subject_type=r.subject_type,
                                      subject_id=r.subject_id, data=r.data)
            updates.append({"key": r.id, "s": seq, "p": prev, "h": digest})
            prev = digest
        conn.execute(sa.update(t).where(t.c.id == sa.bindparam("key"))
                     .values(seq=sa.bindparam("s"), prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")), updates)
        head |= {"seq": len(rows), "hash": prev, "mac": chain.head_mac(key, len(rows), prev),
                 "key_id": keys.key_id(key)}
    head_table = sa.table("audit_head", *(sa.column(c) for c in head))
    conn.execute(sa.insert(head_table), [head])


def _old_digest(prev: str | None, at: datetime, actor: str, action: str, subject: str, data: Any) -> str:
    body = orjson.dumps([prev, at.isoformat(), actor, action, subject, data], option=orjson.OPT_SORT_KEYS,
                        default=str)
    return hashlib.sha256(body).hexdigest()


def downgrade() -> None:
    # Back to one SHA-256 chain per subject, as 0004 verified it.
    conn = op.get_bind()
    t = _events()
    rows = conn.execute(sa.select(t.c.id, t.c.at, t.c.actor, t.c.action, t.c.subject_type, t.c.subject_id,
                                  t.c.data).order_by(t.c.id)).all()
    last: dict[tuple[str, str], str] = {}
    updates = []
    for r in rows:
        subject = (r.subject_type, r.subject_id)
        prev = last.get(subject)
        digest = _old_digest(prev, r.at, r.actor, r.action, f"{r.subject_type}:{r.subject_id}", r.data)
        updates.append({"key": r.id, "p": prev, "h": digest})
        last[subject] = digest
    if updates:
        conn.execute(sa.update(t).where(t.c.id == sa.bindparam("key"))
                     .values(prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")), updates)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_events_seq'), type_='unique')
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))
        batch_op.drop_index(batch_op.f('ix_audit_events_actor_id'))
        batch_op.drop_column('token_id')
        batch_op.drop_column('actor_id')
        batch_op.drop_column('seq')
    op.drop_table('audit_head')
