"""search entries: index (kind, seq) for snapshot refreshes, in place of (seq)

Revision ID: 0011_search_kind_seq_index
Revises: 0010_alliance
Create Date: 2026-11-24 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011_search_kind_seq_index"
down_revision = "0010_alliance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_search_entries_seq", table_name="search_entries")
    op.create_index("ix_search_entries_kind_seq", "search_entries", ["kind", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_search_entries_kind_seq", table_name="search_entries")
    op.create_index("ix_search_entries_seq", "search_entries", ["seq"], unique=False)
