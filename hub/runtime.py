"""Opening the hub's moving parts in order: database, schema, vault, registry, the call path.

This is the wiring every entry point shares (the app, the CLI, the scheduler, MCP over
stdio); the domains below it take only the parts they need.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

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
    if migrate:
        migrations.upgrade(db.engine)
    vault, where = open_vault(settings, db)

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
    if sync_registry:
        catalog = load_catalog(settings.registry_dir or repo_path("registry_seed"))
        with db.session() as s:
            sync_catalog(s, catalog)
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
