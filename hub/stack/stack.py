"""The native production topology: start it in order, record it, stop exactly what it started.

Ports are picked free at `up` and kept in ``<dir>/stack.json`` with every process's record, so
`down` (from any process) and the fault tests (``restart``, ``kill``) find them again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hub.core.processes import free_port, port_in_use, private_dir
from hub.core.settings import repo_path
from hub.n8n.install import N8nInstall, ensure_n8n
from hub.n8n.local import LocalN8n
from hub.sandbox.install import ensure_prism
from hub.sandbox.vendors import sandbox_port_count
from hub.stack import postgres
from hub.stack.daemons import Daemon, spawn
from hub.stack.haproxy import haproxy_config

STATE = "stack.json"
_PASSTHROUGH = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR")


class StackError(RuntimeError):
    """The stack could not start (what failed, and its log)."""


def _base_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    env["PYTHONUNBUFFERED"] = "1"  # logs reach the log file as they happen
    return env


#: What a part's log says when its port was taken between picking and starting.
_PORT_TAKEN = ("already in use", "EADDRINUSE", "Address in use")


def _free_run(n: int) -> int:
    """A port ``p`` with ``p .. p+n-1`` all free."""
    for _ in range(200):
        p = free_port()
        if p + n < 65535 and not any(port_in_use(p + i) for i in range(n)):
            return p
    raise StackError(f"no {n} consecutive free ports")


def wait_until(what: str, probe: Callable[[], bool], daemon: Daemon | None, timeout: float) -> None:
    """Poll ``probe`` until true; fail naming the log when the process died or time ran out."""
    deadline = time.monotonic() + timeout
    while not probe():
        if daemon is not None and not daemon.alive():
            raise StackError(f"{what} exited during start-up; log {daemon.log}:\n{_tail(daemon)}")
        if time.monotonic() > deadline:
            where = f"; log {daemon.log}:\n{_tail(daemon)}" if daemon else ""
            raise StackError(f"{what} was not ready after {timeout:.0f} s{where}")
        time.sleep(0.2)


def _tail(d: Daemon, n: int = 25) -> str:
    try:
        return "\n".join(Path(d.log).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def http_ok(url: str) -> Callable[[], bool]:
    """A probe: ``url`` answers 200."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def tcp_open(port: int) -> Callable[[], bool]:
    """A probe: something accepts connections on 127.0.0.1:``port``."""
    return lambda: port_in_use(port)


@dataclass
class Stack:
    """A stack's folder, its ports and its processes."""

    dir: Path
    hubs: int = 2
    workers: int = 2
    private_postgres: bool = False
    hub_env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    daemons: dict[str, Daemon] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    admin_url: str = ""
    pg_data: str | None = None
    encryption_key: str = ""

    # ------------------------------------------------------------------ state
    @property
    def state_file(self) -> Path:
        """Where the stack's record lives."""
        return self.dir / STATE

    def save(self) -> None:
        """Write the record (after every change, so a crash still leaves it true)."""
        data = {
            "hubs": self.hubs,
            "workers": self.workers,
            "private_postgres": self.private_postgres,
            "hub_env": self.hub_env,
            "ports": self.ports,
            "daemons": {k: d.to_json() for k, d in self.daemons.items()},
            "databases": self.databases,
            "admin_url": self.admin_url,
            "pg_data": self.pg_data,
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.state_file)

    @classmethod
    def load(cls, folder: Path) -> Stack:
        """The stack recorded in ``folder``."""
        data = json.loads((Path(folder) / STATE).read_text())
        st = cls(
            Path(folder),
            hubs=data["hubs"],
            workers=data["workers"],
            private_postgres=data["private_postgres"],
            hub_env=data["hub_env"],
            ports=data["ports"],
            daemons={k: Daemon.from_json(v) for k, v in data["daemons"].items()},
            databases=data["databases"],
            admin_url=data["admin_url"],
            pg_data=data["pg_data"],
        )
        st.encryption_key = (st.dir / "n8n.key").read_text().strip()
        return st

    # ------------------------------------------------------------------ urls
    @property
    def url(self) -> str:
        """The load balancer: where callers and n8n reach the hubs."""
        return f"http://127.0.0.1:{self.ports['lb']}"

    def hub_url(self, i: int) -> str:
        """Replica ``i``'s own address (1-based), bypassing the load balancer."""
        return f"http://127.0.0.1:{self.ports[f'hub-{i}']}"

    @property
    def n8n_url(self) -> str:
        """n8n main (API, editor, webhooks)."""
        return f"http://127.0.0.1:{self.ports['n8n']}"

    @property
    def sandbox_url(self) -> str:
        """The vendor sandbox's recording proxy."""
        return f"http://127.0.0.1:{self.ports['sandbox']}"

    @property
    def hub_database_url(self) -> str:
        """The hubs' database."""
        return postgres.database_url(self.admin_url, self.databases[0]).replace(
            "postgresql://", "postgresql+psycopg://", 1
        )

    @property
    def master_key_file(self) -> Path:
        """The hubs' master key (0600 in the stack folder)."""
        return self.dir / "master.key"

    def hub_environment(self) -> dict[str, str]:
        """What `hub ...` commands need to act on this stack (`scripts/stack env`)."""
        return {
            "HUB_MODE": "production",
            "HUB_DATABASE_URL": self.hub_database_url,
            "HUB_MASTER_KEY_FILE": str(self.master_key_file),
            "HUB_N8N_URL": self.n8n_url,
            "HUB_PUBLIC_URL": self.url,
        }

    # ------------------------------------------------------------------ up
    def up(self) -> Stack:
        """Start every part in order; on any failure (or a signal) stop what started."""
        self.dir.mkdir(parents=True, exist_ok=True)
        private_dir(self.dir)
        if self.state_file.exists() and any(
            d.alive() for d in Stack.load(self.dir).daemons.values()
        ):
            raise StackError(f"a stack already runs from {self.dir}: `scripts/stack down` first")
        try:
            install = ensure_n8n(progress=True)
            prism = ensure_prism(progress=True)
            self._allocate()
            self._start_postgres()
            self._start_redis()
            self._start_n8n(install)
            self._start_workers(install)
            self._start_sandbox(prism)
            self._start_hubs()
            self._start_lb()
        except BaseException:
            self.down()
            raise
        return self

    @staticmethod
    def _span(name: str) -> int:
        """How many consecutive ports a part listens on, from its recorded one."""
        if name == "n8n" or name.startswith("n8n-worker-"):
            return 2  # the HTTP (or health) port, then the task broker's
        return sandbox_port_count() if name == "sandbox" else 1

    def _pick(self, name: str) -> None:
        n = self._span(name)
        self.ports[name] = free_port() if n == 1 else _free_run(n)

    def _allocate(self) -> None:
        names = ["redis", "lb", "n8n", *(["postgres"] if self.private_postgres else [])]
        names += [f"n8n-worker-{i}" for i in range(1, self.workers + 1)]
        names += [f"hub-{i}" for i in range(1, self.hubs + 1)] + ["sandbox"]
        self.ports = {}
        for name in names:
            self._pick(name)
        key_file = self.dir / "n8n.key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(32))
            key_file.chmod(0o600)
        self.encryption_key = key_file.read_text().strip()
        if not self.master_key_file.exists():
            self.master_key_file.write_text(secrets.token_urlsafe(32) + "\n")
            self.master_key_file.chmod(0o600)
        self.save()

    def _add(self, d: Daemon) -> Daemon:
        self.daemons[d.name] = d
        self.save()
        return d

    def _start_postgres(self) -> None:
        tag = hashlib.sha256(str(self.dir.resolve()).encode()).hexdigest()[:10]
        if self.private_postgres:
            # Outside the stack folder: the postgres user must reach it (a test's tmp is 0700).
            pg_dir = Path(tempfile.mkdtemp(prefix=f"hub-stack-pg-{tag}-"))
            self.pg_data = str(pg_dir / "data")
            self.save()
            postgres.init_cluster(Path(self.pg_data))
            self.admin_url = f"postgresql://postgres@127.0.0.1:{self.ports['postgres']}/postgres"
            self.start_one("postgres")
        else:
            self.admin_url = postgres.admin_url()
        self.databases = [f"stack_{tag}_hub", f"stack_{tag}_n8n"]
        self.save()
        postgres.create_databases(self.admin_url, self.databases)

    def _start_redis(self) -> None:
        self._start_new(["redis"])

    def _start_n8n(self, install: N8nInstall) -> None:
        self._start_new(["n8n"], install)

    def _start_workers(self, install: N8nInstall) -> None:
        self._start_new([f"n8n-worker-{i}" for i in range(1, self.workers + 1)], install)

    def _start_sandbox(self, prism: Path) -> None:
        self._start_new(["sandbox"])

    def _start_hubs(self) -> None:
        # Together: the provisioning lock decides who sets n8n up.
        self._start_new([f"hub-{i}" for i in range(1, self.hubs + 1)])

    def _start_new(
        self,
        names: list[str],
        install: N8nInstall | None = None,
        configure: Callable[[], None] | None = None,
    ) -> None:
        """Start parts nothing started yet depends on, together, and wait for them.

        Ports are picked before anything starts, and n8n takes a while: on a busy machine
        another process can take one meanwhile. Nothing knows a part's port until the parts
        after it start, so a taken port is picked again (before the start, or when the part
        exits saying so), three times at most.
        """
        for attempt in range(3):
            for name in names:
                if any(port_in_use(self.ports[name] + i) for i in range(self._span(name))):
                    self._pick(name)
            self.save()
            if configure is not None:
                configure()  # files that name the ports
            for name in names:
                self.start_one(name, install=install, wait=False)
            try:
                for name in names:
                    self._wait(name)
                return
            except StackError as exc:
                if attempt == 2 or not any(m in str(exc) for m in _PORT_TAKEN):
                    raise
                said = next(ln for ln in str(exc).splitlines() if any(m in ln for m in _PORT_TAKEN))
                print(f"[stack] {said.strip()}: picking other ports", file=sys.stderr)
                for name in names:
                    self.stop_one(name)

    def _start_lb(self) -> None:
        def configure() -> None:
            (self.dir / "haproxy.cfg").write_text(
                haproxy_config(
                    self.ports["lb"],
                    {f"hub-{i}": self.ports[f"hub-{i}"] for i in range(1, self.hubs + 1)},
                    repo_path("deploy") / "haproxy-errors",
                )
            )

        self._start_new(["lb"], configure=configure)

    # ------------------------------------------------------------------ one part
    def _n8n_env(self, install: N8nInstall, name: str) -> dict[str, str]:
        port = self.ports[name]
        pg = postgres.database_url(self.admin_url, self.databases[1])
        host_port = pg.split("@", 1)[1].split("/", 1)[0]
        host, _, pg_port = host_port.partition(":")
        extra = {
            "DB_TYPE": "postgresdb",
            "DB_POSTGRESDB_HOST": host,
            "DB_POSTGRESDB_PORT": pg_port or "5432",
            "DB_POSTGRESDB_DATABASE": self.databases[1],
            "DB_POSTGRESDB_USER": "postgres",
            "EXECUTIONS_MODE": "queue",
            "QUEUE_BULL_REDIS_HOST": "127.0.0.1",
            "QUEUE_BULL_REDIS_PORT": str(self.ports["redis"]),
            "OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS": "true",
            # n8n exits when Redis is gone for longer than this (default 10 s): ride out a
            # Redis restart instead of needing a supervisor to start n8n again.
            "QUEUE_BULL_REDIS_TIMEOUT_THRESHOLD": "300000",
            "N8N_RUNNERS_BROKER_PORT": str(port + 1),
            "EXECUTIONS_DATA_SAVE_ON_SUCCESS": "none",
            "EXECUTIONS_DATA_SAVE_ON_ERROR": "none",
            "EXECUTIONS_DATA_SAVE_MANUAL_EXECUTIONS": "false",
        }
        if name != "n8n":
            extra |= {
                "QUEUE_HEALTH_CHECK_ACTIVE": "true",
                "QUEUE_HEALTH_CHECK_PORT": str(port),
                "N8N_WORKER_SERVER_ADDRESS": "127.0.0.1",
            }
        n8n = LocalN8n(
            install,
            self.dir / name,
            port,
            encryption_key=self.encryption_key,
            secure_delete=False,  # a SQLite preload; n8n runs on PostgreSQL here
            extra_env=extra,
        )
        n8n.user_folder.mkdir(parents=True, exist_ok=True)
        return n8n.build_env()

    def _command(self, name: str, install: N8nInstall | None) -> tuple[list[str], dict[str, str]]:
        env = _base_env()
        if name == "postgres":
            raise AssertionError("postgres starts through hub.stack.postgres")
        if name == "redis":
            rdir = self.dir / "redis"
            rdir.mkdir(exist_ok=True)
            return [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.ports["redis"]),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(rdir),
            ], env
        if name == "n8n" or name.startswith("n8n-worker-"):
            install = install or ensure_n8n(progress=False)
            cmd = [str(install.node_bin), str(install.n8n_bin)]
            cmd += ["start"] if name == "n8n" else ["worker", "--concurrency=10"]
            return cmd, self._n8n_env(install, name)
        if name == "sandbox":
            return [
                sys.executable,
                "-m",
                "hub.sandbox",
                "--base-port",
                str(self.ports["sandbox"]),
            ], env
        if name.startswith("hub-"):
            env |= self.hub_environment() | self.hub_env
            env |= {"HUB_DATA_DIR": str(self.dir / name), "HUB_LOG_FORMAT": "json"}
            return [
                sys.executable,
                "-m",
                "hub",
                "serve",
                "--provision-n8n",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[name]),
            ], env
        if name == "lb":
            haproxy = shutil.which("haproxy")
            if haproxy is None:
                raise StackError("haproxy is not installed: apt-get install haproxy")
            return [haproxy, "-W", "-db", "-f", str(self.dir / "haproxy.cfg")], env
        raise StackError(f"no stack part named {name!r}")

    def _probe(self, name: str) -> tuple[Callable[[], bool], float]:
        port = self.ports.get(name, 0)
        if name == "postgres":
            return postgres.accepts(self.admin_url), 60
        if name == "redis":
            return tcp_open(port), 60
        if name == "n8n":
            settings = http_ok(f"{self.n8n_url}/rest/settings")
            ready = http_ok(f"{self.n8n_url}/healthz/readiness")
            return (lambda: ready() and settings()), 240
        if name.startswith("n8n-worker-"):
            return http_ok(f"http://127.0.0.1:{port}/healthz/readiness"), 240
        if name == "sandbox":
            n = sandbox_port_count()
            return (lambda: all(port_in_use(self.ports["sandbox"] + i) for i in range(n))), 120
        if name.startswith("hub-"):
            return http_ok(f"http://127.0.0.1:{port}/readyz"), 240
        if name == "lb":
            return http_ok(f"{self.url}/readyz"), 30
        raise StackError(f"no stack part named {name!r}")

    def start_one(
        self, name: str, *, install: N8nInstall | None = None, wait: bool = True
    ) -> Daemon:
        """(Re)start one part on its recorded port; wait until it answers unless told not to."""
        old = self.daemons.get(name)
        if old is not None and old.alive():
            return old
        log = self.dir / "logs" / f"{name}.log"
        if name == "postgres":
            assert self.pg_data is not None
            d = postgres.start_cluster(Path(self.pg_data), self.ports["postgres"], log)
        else:
            cmd, env = self._command(name, install)
            d = spawn(name, cmd, env=env, log=log, cwd=self.dir)
        self._add(d)
        if wait:
            self._wait(name)
        return d

    def _wait(self, name: str) -> None:
        probe, timeout = self._probe(name)
        wait_until(name, probe, self.daemons[name], timeout)

    def stop_one(self, name: str) -> None:
        """Stop one part (its stop signal, then SIGKILL); its record stays for a restart."""
        d = self.daemons.get(name)
        if d is not None:
            d.stop()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one part's process group (kill -9 by default) and wait for it."""
        d = self.daemons[name]
        p = d.process()
        d.signal(sig)
        if p is not None and sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                p.wait(15)
            d.process()  # reaps our own child

    # ------------------------------------------------------------------ down
    def down(self) -> None:
        """Stop every recorded process (front to back), drop the databases, remove the cluster."""
        order = ["lb", *[n for n in self.daemons if n.startswith("hub-")], "sandbox"]
        order += [n for n in self.daemons if n.startswith("n8n-worker-")] + ["n8n", "redis"]
        for name in order:
            self.stop_one(name)
        if self.databases and self.admin_url:
            if self.private_postgres:
                pass  # the whole cluster goes below
            else:
                with contextlib.suppress(Exception):
                    postgres.drop_databases(self.admin_url, self.databases)
        self.stop_one("postgres")
        if self.pg_data:
            shutil.rmtree(Path(self.pg_data).parent, ignore_errors=True)
        self.daemons = {k: d for k, d in self.daemons.items() if d.alive()}
        if self.dir.exists():
            self.save()

    def running(self) -> Iterator[tuple[str, Daemon, bool]]:
        """(name, record, alive) for every recorded part."""
        for name, d in self.daemons.items():
            yield name, d, d.alive()

    def describe(self) -> dict[str, Any]:
        """What `up` prints: where each part listens."""
        return {
            "load balancer": self.url,
            **{f"hub-{i}": self.hub_url(i) for i in range(1, self.hubs + 1)},
            "n8n": self.n8n_url,
            "sandbox": self.sandbox_url,
            "redis": f"127.0.0.1:{self.ports['redis']}",
            "postgres": self.admin_url.rsplit("/", 1)[0] + f"/{self.databases[0]}",
        }
