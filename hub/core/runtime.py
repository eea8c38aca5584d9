"""Opening the hub's moving parts in order: database, schema, vault, registry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from hub.connections.usage import UsageMeter
from hub.core.settings import Settings, repo_path
from hub.db.engine import Database
from hub.runs.handouts import Handouts

log = logging.getLogger("hub.runtime")


@dataclass
class Runtime:
    """What a running hub (server or CLI command) holds."""

    settings: Settings
    db: Database
    vault: object = None
    invoker: object = None
    notes: list[str] = field(default_factory=list)
    # Secrets handed to workflows at the edge, until their runs finish (for scrubbing).
    handouts: Handouts = field(default_factory=Handouts)
    # Connection usage counts not yet written (hub.connections.usage).
    usage: UsageMeter = field(default_factory=UsageMeter)

    def close(self) -> None:
        """Write pending usage counts, then release the database."""
        if self.usage.pending:
            self.db.writer.run_sync(self.usage.flush)
        self.db.dispose()


def open_vault(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    """Load the master key (generated in local mode) and unlock the key ring."""
    from vault import Vault, load_master_key

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
    from hub.db import migrate as migrations

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    rt = Runtime(settings=settings, db=db)
    if migrate:
        migrations.upgrade(db.engine)
    rt.vault, where = open_vault(settings, db)
    if where.startswith("generated"):
        rt.notes.append(f"master key {where} (keep it safe: it unlocks every stored credential)")
    if sync_registry:
        from hub.registry.catalog import load_catalog
        from hub.registry.service import sync_catalog

        catalog = load_catalog(settings.registry_dir or repo_path("registry_seed"))
        with db.session() as s:
            sync_catalog(s, catalog)
    refresh_invoker(rt)
    return rt


def refresh_invoker(rt: Runtime) -> None:
    """(Re)build the webhook invoker from the stored n8n instance, if there is one."""
    from hub.n8n.instance import make_invoker

    with rt.db.session() as s:
        rt.invoker = make_invoker(s, rt.vault, rt.settings)


def reconcile_on_start(rt: Runtime) -> int:
    """Mark calls a stopped hub left in flight as outcome_unknown.

    With SQLite only one hub serves the file, so every in-flight run is an orphan; with a
    shared PostgreSQL other replicas may be mid-call, so only runs older than the webhook
    timeout (+5 s) are touched (the scheduler repeats this periodically).
    """
    from datetime import timedelta

    from hub.runs.service import reconcile_interrupted, stale_after

    grace = timedelta(0) if rt.db.url.startswith("sqlite") else stale_after(rt.settings)
    with rt.db.session() as s:
        n = reconcile_interrupted(s, grace)
    if n:
        log.warning("reconciled interrupted runs", extra={"count": n})
    return n
