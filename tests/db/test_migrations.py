"""Migrations reach head on SQLite and PostgreSQL, match the models, and go down and up."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hub.db import migrate
from hub.schema import all_metadata
from tests.conftest import fresh_database_url


def test_upgrade_matches_models_and_round_trips(backend, tmp_path, pg_server):
    url, drop = fresh_database_url(backend, tmp_path, pg_server)
    engine = sa.create_engine(url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
        with engine.connect() as c:
            ctx = MigrationContext.configure(c, opts={"compare_type": True})
            diff = compare_metadata(ctx, all_metadata())
        assert diff == [], f"models and migrations differ: {diff}"
        migrate.downgrade(engine, "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
    finally:
        engine.dispose()
        drop()
