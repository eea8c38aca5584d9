"""Run the installed n8n headless on loopback with SQLite in a user folder.

A Python port of ``start-n8n.sh`` / ``stop-n8n.sh`` plus the settings the hub needs. The
module holds one idea, the life of one local n8n process (start it or adopt the one already
serving its folder, wait until it is ready, stop its process group) and the environment it
runs with; it is long because the measurements behind those settings are kept here.

**Execution data in n8n's database.** Measured on n8n 2.41.1 / Node 24.21.0 (2-core Debian
VM, shared with other work) with a workflow ``Webhook -> Respond to Webhook`` whose settings
are the ones the hub enforces on deploy (``saveDataSuccessExecution: none``,
``saveDataErrorExecution: none``, ``saveManualExecutions: false``,
``saveExecutionProgress: false``): three calls whose JSON body carried a canary, then the
``execution_entity`` / ``execution_data`` tables of ``<user_folder>/.n8n/database.sqlite``
and the raw bytes of ``database.sqlite``, ``-wal`` and ``-shm`` inspected right after the
last answer (+0 s) and 2 s later.

* n8n default (``EXECUTIONS_DATA_PRUNE`` true): 3 rows, all soft-deleted (``deletedAt``
  set), every ``execution_data.data`` holding the canary; they stay until the hard-delete
  task (every 15 min). Canary in ``-wal``.
* ``EXECUTIONS_DATA_PRUNE=false``: +0 s one row (the last run was still finishing: the
  response goes out before the run ends), +2 s no rows. Canary still in the ``-wal`` bytes
  at +2 s and after n8n stopped.
* ``EXECUTIONS_DATA_PRUNE=false`` and a WAL checkpoint after each delete but no
  ``secure_delete``: no rows, but the canary moved into ``database.sqlite`` (deleted cells
  stay in freed space).
* ``EXECUTIONS_DATA_PRUNE=false`` + ``secure_delete`` preload (this module's default):
  +0 s no rows (canary still in ``-wal`` while the checkpoint waited for the probe's own read
  lock); +2 s and after stop: no rows and the canary in no byte of any of the three files.

So N8N.md's claim holds for the rows (``EXECUTIONS_DATA_PRUNE=false`` hard-deletes them
when the run ends, not when the webhook answers) but not for the bytes: n8n opens SQLite in
WAL mode without ``secure_delete``. With ``secure_delete=True`` (the default) this module
preloads ``assets/sqlite-secure-delete.js`` (``NODE_OPTIONS=--require``): it sets ``PRAGMA
secure_delete = ON`` and ``journal_size_limit = 0`` on every SQLite connection n8n opens and
runs ``PRAGMA wal_checkpoint(TRUNCATE)`` after each hard delete of executions. Its cost was
within the noise of the latency numbers below (0-3 ms median).

**Expression engine** (``N8N_EXPRESSION_ENGINE``): webhook -> Set node (expressions) -> HTTP
Request to a loopback echo server -> Respond; 200 sequential calls on one keep-alive
connection after 10 warm-up calls, every answer checked:

* ``legacy``: median 17-21 ms, p99 35-49 ms, 42-55 calls/s (10 concurrent callers: 57/s)
* ``vm`` (n8n's own default, isolated-vm): median 55 ms, p99 109-111 ms, 18 calls/s
* ``quickjs``: median 127 ms, p99 185 ms, 7 calls/s

``legacy`` is the default here: about 3x faster than ``vm`` and it ran every test workflow
correctly. It evaluates expressions in n8n's main process instead of an isolate, acceptable
because the hub deploys only its own linted workflows; pass ``expression_engine="vm"`` to
trade speed for isolation.

**Start-up**: ready (``/healthz/readiness`` and ``/rest/settings`` both 200) took 7.5-10 s
on a new user folder and 6-8 s on an existing one.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import time
import weakref
from collections.abc import Mapping
from io import BufferedWriter
from pathlib import Path

import httpx

from hub.core.processes import (
    pid_alive,
    port_in_use,
    private_child,
    private_dir,
    read_environ,
    send_signal,
)
from hub.n8n.install import N8nInstall

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
SECURE_DELETE_PRELOAD = ASSETS_DIR / "sqlite-secure-delete.js"

EXPRESSION_ENGINES = ("legacy", "vm", "quickjs")
#: Fastest engine that ran every test workflow correctly (see the module docstring).
DEFAULT_EXPRESSION_ENGINE = "legacy"

#: Modules n8n would otherwise load: mcp-registry fetches https://api.n8n.io at start (fails
#: offline); the others are AI / chat / insights features a webhook hub does not need.
WANTED_DISABLED_MODULES = (
    "mcp-registry",
    "insights",
    "instance-ai",
    "agents",
    "chat-hub",
    "workflow-builder",
)

#: Variables taken from the caller's environment; everything else n8n sees is set here, so
#: the hub's own secrets (vault keys, tokens) never reach n8n's process environment.
_PASSTHROUGH_ENV = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")

_LIVE: weakref.WeakSet[LocalN8n] = weakref.WeakSet()


class N8nStartError(RuntimeError):
    """n8n could not be started (or an unrelated process holds its port)."""


def generate_encryption_key() -> str:
    """A new random key for n8n to encrypt its credentials with."""
    return secrets.token_urlsafe(32)


def disabled_modules(install: N8nInstall, wanted: tuple[str, ...] = WANTED_DISABLED_MODULES) -> str:
    """The wanted module names this n8n knows (it refuses to start on an unknown one)."""
    cfg = install.install_dir / "node_modules/@n8n/backend-common/dist/modules/modules.config.js"
    try:
        m = re.search(r"MODULE_NAMES = \[(.*?)\]", cfg.read_text(), re.S)
        known = set(re.findall(r"'([a-z0-9-]+)'", m.group(1))) if m else set()
    except OSError:
        known = set()
    return ",".join(name for name in wanted if name in known)


class LocalN8n:
    """One n8n process serving ``http://127.0.0.1:<port>`` from ``user_folder``.

    ``encryption_key``: n8n encrypts its credentials with it; the hub keeps it in its vault.
    When omitted, the key already recorded in ``<user_folder>/.n8n/config`` is reused (n8n
    refuses to start on a mismatch), else a new one is generated; read it back from
    :attr:`encryption_key`.
    """

    def __init__(
        self,
        install: N8nInstall,
        user_folder: Path,
        port: int,
        *,
        encryption_key: str | None = None,
        expression_engine: str | None = None,
        host: str = "127.0.0.1",
        log_level: str = "info",
        secure_delete: bool = True,
        extra_env: Mapping[str, str] | None = None,
        die_with_parent: bool = False,
        stop_at_exit: bool = True,
    ):
        engine = (
            expression_engine
            or os.environ.get("HUB_N8N_EXPRESSION_ENGINE")
            or DEFAULT_EXPRESSION_ENGINE
        )
        if engine not in EXPRESSION_ENGINES:
            raise ValueError(
                f"expression_engine must be one of {EXPRESSION_ENGINES}, not {engine!r}"
            )
        self.install = install
        self.user_folder = Path(user_folder).expanduser().resolve()
        self.port = int(port)
        self.host = host
        self.expression_engine = engine
        self.log_level = log_level
        self.secure_delete = secure_delete
        self.extra_env = dict(extra_env or {})
        self.die_with_parent = die_with_parent
        self.stop_at_exit = stop_at_exit
        self.encryption_key = encryption_key or self._existing_key() or generate_encryption_key()
        self.ready_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None  # set for both a started and an adopted process
        self._log_fh: BufferedWriter | None = None

    # ------------------------------------------------------------------ paths
    @property
    def url(self) -> str:
        """Where this n8n serves its API, UI and webhooks."""
        return f"http://{self.host}:{self.port}"

    @property
    def broker_port(self) -> int:
        """The task-runner broker's port (``port + 1`` unless overridden)."""
        return int(self.extra_env.get("N8N_RUNNERS_BROKER_PORT", self.port + 1))

    @property
    def pid_file(self) -> Path:
        """Where the running n8n's pid is kept, for a later process to adopt it."""
        return self.user_folder / "n8n.pid"

    @property
    def log_path(self) -> Path:
        """n8n's output (appended to across starts)."""
        return self.user_folder / "n8n.log"

    @property
    def database_path(self) -> Path:
        """n8n's SQLite database."""
        return self.user_folder / ".n8n" / "database.sqlite"

    @property
    def pid(self) -> int | None:
        """The n8n process (started or adopted), None when not running."""
        return self._pid

    def _existing_key(self) -> str | None:
        try:
            data = json.loads((self.user_folder / ".n8n" / "config").read_text())
        except (OSError, ValueError):
            return None
        key = data.get("encryptionKey") if isinstance(data, dict) else None
        return key if isinstance(key, str) and key else None

    # ------------------------------------------------------------------ env
    def build_env(self) -> dict[str, str]:
        """The whole environment n8n runs with (nothing else leaks in from ours)."""
        env = {k: os.environ[k] for k in _PASSTHROUGH_ENV if k in os.environ}
        env["PATH"] = f"{self.install.node_bin.parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin"
        env.update(
            {
                "N8N_USER_FOLDER": str(self.user_folder),  # db: <folder>/.n8n/database.sqlite
                "DB_TYPE": "sqlite",
                "N8N_PORT": str(self.port),
                "N8N_LISTEN_ADDRESS": self.host,
                "N8N_HOST": self.host,
                "N8N_PROTOCOL": "http",
                "N8N_WEBHOOK_URL": f"{self.url}/",
                "N8N_RUNNERS_BROKER_PORT": str(self.port + 1),
                "N8N_RUNNERS_BROKER_LISTEN_ADDRESS": "127.0.0.1",
                "N8N_DIAGNOSTICS_ENABLED": "false",
                "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
                "N8N_TEMPLATES_ENABLED": "false",
                "N8N_HIRING_BANNER_ENABLED": "false",
                "N8N_PERSONALIZATION_ENABLED": "false",
                "N8N_DIAGNOSTICS_CONFIG_FRONTEND": "",
                "N8N_DIAGNOSTICS_CONFIG_BACKEND": "",
                "EXTERNAL_FRONTEND_HOOKS_URLS": "",
                "N8N_DISABLED_MODULES": disabled_modules(self.install),
                "N8N_SECURE_COOKIE": "false",  # auth cookie over plain http (owner setup)
                "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "true",
                "N8N_ENCRYPTION_KEY": self.encryption_key,
                # n8n's own SSRF guard (pre-flight, at connect and on each redirect): a URL a
                # caller gives (send_contract's document_url) cannot reach a private or
                # metadata address. 127.0.0.1 stays open: the hub's edge and the sandbox.
                "N8N_SSRF_PROTECTION_ENABLED": "true",
                "N8N_SSRF_ALLOWED_IP_RANGES": "127.0.0.1/32,::1/128",
                # publish registers webhooks synchronously (no 404 window after publish)
                "N8N_USE_WORKFLOW_PUBLICATION_SERVICE": "false",
                "N8N_BLOCK_ENV_ACCESS_IN_NODE": "true",  # no $env in expressions / Code
                # hard-delete finished executions at once instead of soft-deleting them
                "EXECUTIONS_DATA_PRUNE": "false",
                "N8N_EXPRESSION_ENGINE": self.expression_engine,
                "NODE_ENV": "production",  # no stack traces in HTTP error bodies
                "N8N_LOG_LEVEL": self.log_level,
                "SCARF_ANALYTICS": "false",
                "DO_NOT_TRACK": "1",
            }
        )
        if self.secure_delete:
            env["NODE_OPTIONS"] = f"--require {json.dumps(str(SECURE_DELETE_PRELOAD))}"
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ state
    def is_running(self) -> bool:
        """Whether the n8n this object started or adopted still runs."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self._pid is not None and pid_alive(self._pid)

    def _is_ours(self, pid: int) -> tuple[bool, int | None]:
        """(same user folder?, its port) for a live pid from our pid file."""
        environ = read_environ(pid)
        if environ is None:  # no /proc: trust the pid file in our own folder
            return True, self.port
        folder = environ.get("N8N_USER_FOLDER")
        try:
            same = folder is not None and Path(folder).resolve() == self.user_folder
        except OSError:
            same = False
        port = environ.get("N8N_PORT")
        return same, int(port) if port and port.isdigit() else None

    def _ready(self, client: httpx.Client) -> bool:
        try:
            return (
                client.get(f"{self.url}/healthz/readiness").status_code == 200
                and client.get(f"{self.url}/rest/settings").status_code == 200
            )
        except httpx.HTTPError:
            return False

    def _log_tail(self, since: int = 0, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(since)
                text = fh.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ------------------------------------------------------------------ start
    def start(self, timeout: float = 180.0) -> str:
        """Start n8n (or reuse ours already running) and wait until it is ready."""
        if self.is_running():
            return self.url
        self.user_folder.mkdir(parents=True, exist_ok=True)
        private_dir(self.user_folder)
        adopted = self._try_adopt(timeout)
        if adopted:
            return self.url
        if port_in_use(self.port, self.host):
            raise N8nStartError(
                f"port {self.port} is already in use by another process (not an n8n started "
                f"for {self.user_folder}); pick another port or stop that process"
            )
        if port_in_use(self.broker_port):
            raise N8nStartError(
                f"port {self.broker_port} (n8n's task-runner broker, port+1) is already in use; "
                f"pick another port"
            )
        if not self.install.node_bin.exists() or not self.install.n8n_bin.exists():
            raise N8nStartError(
                f"n8n is not installed in {self.install.install_dir} (run ensure_n8n())"
            )

        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 - kept open while n8n runs
        self._log_fh.write(
            f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting n8n "
            f"{self.install.version} on {self.url}\n".encode()
        )
        self._log_fh.flush()
        t0 = time.monotonic()
        self._proc = subprocess.Popen(
            [str(self.install.node_bin), str(self.install.n8n_bin), "start"],
            cwd=self.user_folder,
            env=self.build_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() signals n8n + task runner
            preexec_fn=private_child(self.die_with_parent),
        )
        self._pid = self._proc.pid
        self.pid_file.write_text(f"{self._pid}\n")
        _LIVE.add(self)

        deadline = t0 + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self._proc.poll() is not None:
                    code = self._proc.returncode
                    self._cleanup_after_exit()
                    raise N8nStartError(
                        f"n8n exited with code {code} during start-up; log: {self.log_path}\n"
                        f"--- last 30 lines ---\n{self._log_tail(log_start)}"
                    )
                if self._ready(client):
                    break
                if time.monotonic() >= deadline:
                    tail = self._log_tail(log_start)
                    self.stop()
                    raise N8nStartError(
                        f"n8n was not ready after {timeout:.0f} s (needs /healthz/readiness and "
                        f"/rest/settings to answer 200); log: {self.log_path}\n"
                        f"--- last 30 lines ---\n{tail}"
                    )
                time.sleep(0.2)
        self.ready_seconds = time.monotonic() - t0
        return self.url

    def _find_by_environment(self) -> int | None:
        """The pid of an n8n serving our folder on our port without (or with a lost) pid
        file: scan /proc for our own processes with that N8N_USER_FOLDER and N8N_PORT."""
        proc = Path("/proc")
        if not proc.is_dir():
            return None
        found: list[int] = []
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            environ = read_environ(int(entry.name))
            if not environ or environ.get("N8N_PORT") != str(self.port):
                continue
            folder = environ.get("N8N_USER_FOLDER")
            if folder and Path(folder).resolve() == self.user_folder and pid_alive(int(entry.name)):
                found.append(int(entry.name))
        return min(found) if found else None  # n8n itself, not a child it started

    def _try_adopt(self, timeout: float) -> bool:
        """Reuse an n8n serving our folder on our port (from the pid file, else found by its
        environment when the port answers)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            self.pid_file.unlink(missing_ok=True)
            found = self._find_by_environment() if port_in_use(self.port, self.host) else None
            if found is None:
                return False
            pid = found
            self.pid_file.write_text(f"{pid}\n")
        if not pid_alive(pid):
            self.pid_file.unlink(missing_ok=True)  # stale
            return False
        same_folder, its_port = self._is_ours(pid)
        if not same_folder:
            self.pid_file.unlink(missing_ok=True)  # pid was reused by an unrelated process
            return False
        if its_port != self.port:
            raise N8nStartError(
                f"an n8n for {self.user_folder} is already running (pid {pid}) on port "
                f"{its_port}, not {self.port}; stop it first or use port {its_port}"
            )
        t0 = time.monotonic()
        with httpx.Client(timeout=2.0) as client:
            while not self._ready(client):
                if not pid_alive(pid):
                    self.pid_file.unlink(missing_ok=True)
                    return False
                if time.monotonic() - t0 > timeout:
                    raise N8nStartError(
                        f"the n8n already running for {self.user_folder} (pid {pid}) did not "
                        f"become ready in {timeout:.0f} s; log: {self.log_path}"
                    )
                time.sleep(0.2)
        self._pid = pid
        self.ready_seconds = time.monotonic() - t0
        _LIVE.add(self)
        return True

    # ------------------------------------------------------------------ stop
    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM n8n's process group, wait up to ``timeout`` s, then SIGKILL it."""
        pid = self._pid
        if pid is None:
            return
        pgid: int | None
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            pgid = pid if self._proc is not None else None
        if pgid is not None and pgid == os.getpgid(0):
            pgid = None  # never signal our own group (adopted process not started by us)
        self._signal(pid, pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self._alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self._alive(pid):
            self._signal(pid, pgid, signal.SIGKILL)
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(5)
        # the task runner and any other child left in the group
        if pgid is not None:
            send_signal(pgid, signal.SIGKILL, group=True)
        self._cleanup_after_exit()

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        return pid_alive(pid)

    @staticmethod
    def _signal(pid: int, pgid: int | None, sig: int) -> None:
        if pgid is not None:
            send_signal(pgid, sig, group=True)
        else:
            send_signal(pid, sig)

    def _cleanup_after_exit(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(1)
        try:
            if self.pid_file.read_text().strip() == str(self._pid):
                self.pid_file.unlink()
        except OSError:
            pass
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        self._proc = None
        self._pid = None
        _LIVE.discard(self)

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> LocalN8n:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalN8n(url={self.url!r}, user_folder={str(self.user_folder)!r}, pid={self._pid})"


@atexit.register
def _stop_all() -> None:  # pragma: no cover - interpreter shutdown
    for inst in list(_LIVE):
        if inst.stop_at_exit:
            with contextlib.suppress(Exception):
                inst.stop()
