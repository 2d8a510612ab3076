"""Alembic environment: the engine comes from the caller (healthgate.migrate) or from settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from healthgate import models_registry  # noqa: F401  (imports every domain's tables)
from healthgate.db import Base, make_engine
from healthgate.migrations.filters import include_name, include_object

config = context.config
connection = config.attributes.get("connection")


def run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=conn.dialect.name == "sqlite",
                      include_name=include_name, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    from healthgate.config import Settings

    engine = make_engine(Settings().resolved_database_url)
    with engine.connect() as conn:
        run(conn)
