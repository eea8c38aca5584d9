"""Alembic environment: runs against the connection handed over by hub.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hub.schema import all_metadata

config = context.config
target_metadata = all_metadata()


def run() -> None:
    """Run migrations online (the hub always has a live connection)."""
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _migrate(conn)
        return
    _migrate(connection)


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
