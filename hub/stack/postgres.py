"""PostgreSQL for the stack: databases on an existing server, or a private cluster.

The default uses the machine's server (``HUB_STACK_POSTGRES_URL``, else trust auth for
``postgres`` on 127.0.0.1:5432) and creates the stack's own two databases, dropped again by
`down`. ``private=True`` runs a cluster of its own from Debian's binaries on another port,
which a fault test may restart without touching anyone else's databases. initdb refuses to
run as root, so as root the cluster runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from hub.stack.daemons import Daemon, spawn

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """The existing server's maintenance database URL."""
    return os.environ.get("HUB_STACK_POSTGRES_URL", DEFAULT_ADMIN_URL)


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary (Debian keeps them out of PATH)."""
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"{name} not found: install Debian's postgresql package (or set "
            f"HUB_STACK_POSTGRES_URL and drop --private-postgres)"
        )
    return found


def _run_as() -> str | None:
    return "postgres" if os.geteuid() == 0 else None


def init_cluster(data_dir: Path) -> None:
    """initdb a new cluster with trust auth for local connections."""
    user = _run_as()
    data_dir.mkdir(parents=True, exist_ok=True)
    if user:
        pw = pwd.getpwnam(user)
        os.chown(data_dir.parent, pw.pw_uid, pw.pw_gid)
        os.chown(data_dir, pw.pw_uid, pw.pw_gid)
    data_dir.chmod(0o700)
    subprocess.run(
        [pg_bin("initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
        check=True,
        capture_output=True,
        user=user,
        group=user,
        extra_groups=[] if user else None,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )


def start_cluster(data_dir: Path, port: int, log: Path) -> Daemon:
    """Run the private cluster's postmaster on 127.0.0.1:``port`` (SIGINT: fast shutdown)."""
    return spawn(
        "postgres",
        [
            pg_bin("postgres"),
            "-D",
            str(data_dir),
            "-p",
            str(port),
            "-k",
            str(data_dir.parent),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=300",
            "-c",
            "fsync=off",  # a throwaway cluster: durability is not what it is for
        ],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        log=log,
        user=_run_as(),
        stop_signal=signal.SIGINT,
    )


def accepts(admin: str) -> Callable[[], bool]:
    """A probe: the server takes connections (not merely its port: "starting up" refuses)."""

    def probe() -> bool:
        try:
            with psycopg.connect(admin, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    return probe


def create_databases(admin: str, names: list[str]) -> None:
    """Create each database (dropping a leftover of the same name first)."""
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_databases(admin: str, names: list[str]) -> None:
    """Drop the stack's databases (connections still open are closed)."""
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def database_url(admin: str, name: str) -> str:
    """``admin`` with its database replaced by ``name``."""
    base, _, _ = admin.rpartition("/")
    return f"{base}/{name}"
