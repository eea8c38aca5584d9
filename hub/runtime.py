"""Opening the hub's moving parts in order: database, schema, vault, registry, the call path.

This is the wiring every entry point shares (the app, the CLI, the scheduler, MCP over
stdio); the domains below it take only the parts they need.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from hub.core.hop import Hop
from hub.core.processes import private_dir, private_file
from hub.core.settings import Settings, repo_path
from hub.db import migrate as migrations
from hub.db.engine import Database
from hub.n8n.instance import make_invoker
from hub.registry.catalog import load_catalog
from hub.registry.sync import sync_catalog
from hub.runs import service as runs
from hub.runs.callpath import CallPath
from vault import Vault, load_master_key

log = logging.getLogger("hub.runtime")


@dataclass
class Runtime:
    """What a running hub (server or CLI command) holds."""

    settings: Settings
    db: Database
    vault: Vault
    calls: CallPath
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Write pending usage counts, then release the database."""
        self.calls.flush_usage()
        self.db.dispose()


def open_vault(settings: Settings, db: Database) -> tuple[Vault, str]:
    """Load the master key (generated in local mode) and unlock the key ring."""
    key, where = load_master_key(
        settings.master_key,
        settings.resolved_master_key_file,
        generate=settings.mode == "local",
    )
    v = Vault(key)
    with db.session() as s:
        v.load(s)
    return v, where


START_LOCK_KEY = 0x4855_4253 + 1  # beside the scheduler's: replicas opening one database


@contextmanager
def start_lock(db: Database) -> Iterator[None]:
    """On PostgreSQL, one replica at a time migrates, creates the key ring and syncs the
    catalog (replicas starting together would otherwise race to insert the same rows)."""
    if not db.url.startswith("postgresql"):
        yield
        return
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": START_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": START_LOCK_KEY})
            conn.commit()


def open_runtime(
    settings: Settings, *, migrate: bool = True, sync_registry: bool = True
) -> Runtime:
    """Connect, migrate, unlock the vault and sync the catalog, failing early and clearly."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # The data folder holds the master key file, the SQLite database and n8n's: owner only.
    private_dir(settings.data_dir)
    if settings.resolved_database_url.startswith("sqlite:///"):
        private_file(Path(settings.resolved_database_url.removeprefix("sqlite:///")))
    db = Database(settings.resolved_database_url)
    with start_lock(db):
        if migrate:
            migrations.upgrade(db.engine)
        vault, where = open_vault(settings, db)
        if sync_registry:
            catalog = load_catalog(settings.registry_dir or repo_path("registry_seed"))
            with db.session() as s:
                sync_catalog(s, catalog)

    def connect_hop() -> Hop | None:
        with db.session() as s:
            return make_invoker(s, vault, settings)

    rt = Runtime(
        settings=settings,
        db=db,
        vault=vault,
        calls=CallPath(settings=settings, db=db, vault=vault, connect_hop=connect_hop),
    )
    if where.startswith("generated"):
        rt.notes.append(f"master key {where} (keep it safe: it unlocks every stored credential)")
    rt.calls.refresh_hop()
    return rt


def reconcile_on_start(rt: Runtime) -> int:
    """Mark calls a stopped hub left in flight as outcome_unknown.

    With SQLite only one hub serves the file, so every in-flight run is an orphan; with a
    shared PostgreSQL other replicas may be mid-call, so only runs older than the webhook
    timeout (+5 s) are touched (the scheduler repeats this periodically).
    """
    sqlite = rt.db.url.startswith("sqlite")
    grace = timedelta(0) if sqlite else runs.stale_after(rt.settings.run_timeout_s)
    with rt.db.session() as s:
        n = runs.reconcile_interrupted(s, grace)
    if n:
        log.warning("reconciled interrupted runs", extra={"count": n})
    return n
