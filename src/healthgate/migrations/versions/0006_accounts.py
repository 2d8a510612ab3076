"""accounts: sign-in throttling

Revision ID: 0006_accounts
Revises: 0005_audit
Create Date: 2026-11-24 04:30:00

``login_throttles``: failed sign-ins in a row per (hashed) email address, and the lock they earned.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_accounts'
down_revision = '0005_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles'))
    )


def downgrade() -> None:
    op.drop_table('login_throttles')
