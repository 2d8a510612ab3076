"""population sizes as BIGINT, custodian as TEXT, teams keyed by their normalised name

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 01:50:00

- ``dataset_versions.population_size`` becomes BIGINT (the search index already is): a population of 2^31
  or more was refused by PostgreSQL at publish. ``dataset_versions.custodian`` becomes TEXT: a long
  custodian name was refused by PostgreSQL (VARCHAR(300)) and accepted by SQLite.
- ``teams.name_key``: the team's name, NFKC-normalised, case-folded, whitespace collapsed, unique. Two
  names are the same team exactly when their keys are equal (slugs only make URLs).

On SQLite the column changes are batch-mode table rebuilds; ``healthgate.migrate`` runs migrations with
foreign keys off there (SQLite's DROP TABLE would otherwise run the ON DELETE CASCADE of every table that
refers to the rebuilt one) and checks them all afterwards.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _name_key(name: str) -> str:
    # a copy of identity.service.name_key as it was when this migration was written
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _fill_name_keys() -> None:
    bind = op.get_bind()
    teams = sa.table("teams", sa.column("id", sa.Uuid()), sa.column("name", sa.String()),
                     sa.column("name_key", sa.String()), sa.column("created_at", sa.DateTime()))
    seen: set[str] = set()
    for team_id, name in bind.execute(sa.select(teams.c.id, teams.c.name).order_by(teams.c.created_at, teams.c.id)):
        key = _name_key(name)
        if key in seen:  # two teams one key would merge: keep both, the newer one keyed apart
            key = f"{key} ({team_id})"
        seen.add(key)
        bind.execute(teams.update().where(teams.c.id == team_id).values(name_key=key))


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        batch.alter_column("population_size", type_=sa.BigInteger(), existing_type=sa.Integer(),
                           existing_nullable=True)
        batch.alter_column("custodian", type_=sa.Text(), existing_type=sa.String(length=300),
                           existing_nullable=True)
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("name_key", sa.String(length=300), nullable=True))
    _fill_name_keys()
    with op.batch_alter_table("teams") as batch:
        batch.alter_column("name_key", nullable=False, existing_type=sa.String(length=300))
        batch.create_index("uq_teams_name_key", ["name_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.drop_index("uq_teams_name_key")
        batch.drop_column("name_key")
    with op.batch_alter_table("dataset_versions") as batch:
        batch.alter_column("custodian", type_=sa.String(length=300), existing_type=sa.Text(),
                           existing_nullable=True)
        batch.alter_column("population_size", type_=sa.Integer(), existing_type=sa.BigInteger(),
                           existing_nullable=True)
