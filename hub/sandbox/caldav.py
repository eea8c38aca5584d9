"""The sandbox's CalDAV server: a real Radicale for Apple Calendar (iCloud speaks CalDAV).

There is no OpenAPI spec for CalDAV, so instead of a Prism mock the sandbox runs Radicale
(``python -m radicale``) on loopback behind the same recording proxy: htpasswd auth for one
test user, storage in a temporary folder that goes with the server, and the user's calendar
collection created before start (so the first PUT has somewhere to go, as on iCloud).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from io import BufferedWriter
from pathlib import Path

import httpx

from hub.core.processes import die_with_parent_hook, free_port, log_tail, send_signal
from hub.sandbox.errors import SandboxError

#: The test user's Apple ID and the calendar collection made for it (iCloud's default
#: calendar is also called ``home``).
CALDAV_USER = "owner@icloud.example"
CALDAV_CALENDAR = "home"


def _app_password() -> str:
    """A random password in Apple's app-specific shape (xxxx-xxxx-xxxx-xxxx)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return "-".join("".join(secrets.choice(letters) for _ in range(4)) for _ in range(4))


class _PortTaken(Exception):
    """Radicale's port was taken between choosing it and binding it."""


class CalDavServer:
    """Radicale as a child process in its own process group, with one user and calendar."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_path: Path,
        startup_timeout: float = 30.0,
        die_with_parent: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        self.user = CALDAV_USER
        self.password = _app_password()
        self.calendar = CALDAV_CALENDAR
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: BufferedWriter | None = None

    @property
    def url(self) -> str:
        """Where Radicale listens (bypassing the proxy)."""
        return f"http://{self.host}:{self.port}"

    @property
    def calendar_path(self) -> str:
        """The calendar collection's path, as a connection's calendar_id can name it."""
        return f"/{self.user}/{self.calendar}/"

    def _write_config(self, root: Path) -> Path:
        storage = root / "storage"
        # The collection exists before the first request, as an iCloud calendar does.
        collection = storage / "collection-root" / self.user / self.calendar
        collection.mkdir(parents=True)
        props = {
            "tag": "VCALENDAR",
            "D:displayname": "Home",
            "C:supported-calendar-component-set": "VEVENT",
        }
        (collection / ".Radicale.props").write_text(json.dumps(props))
        users = root / "users"
        # plain: the sandbox's own throwaway user in a private temp folder; hashing would need
        # an extra library for no protection.
        users.write_text(f"{self.user}:{self.password}\n")
        users.chmod(0o600)
        config = root / "radicale.conf"
        config.write_text(
            "[server]\n"
            f"hosts = {self.host}:{self.port}\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\n"
            # Radicale waits after a failed login by default; tests fail logins on purpose.
            "delay = 0\n"
            "[rights]\n"
            "type = owner_only\n"
            "[storage]\n"
            f"filesystem_folder = {storage}\n"
            "[web]\n"
            "type = none\n"
            "[logging]\n"
            "level = info\n"
            "mask_passwords = True\n"
        )
        return config

    def start(self) -> CalDavServer:
        """Start Radicale and wait until it answers; SandboxError (with its log) if not.

        A port this server picked itself and another process took before Radicale bound it
        (a busy machine) is picked again, up to three times."""
        if self._proc is not None:
            return self
        picked = not self.port
        for attempt in range(3):
            try:
                return self._start_once()
            except _PortTaken as exc:
                self.stop()
                if not picked or attempt == 2:
                    raise SandboxError(str(exc)) from None
                self.port = 0
        raise AssertionError("unreachable")

    def _start_once(self) -> CalDavServer:
        self._dir = Path(tempfile.mkdtemp(prefix="hub-caldav-"))
        self._dir.chmod(0o700)
        self.port = self.port or free_port(self.host)
        config = self._write_config(self._dir)
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent_hook(self.die_with_parent),
        )
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self._proc.poll() is not None:
                    self._log_fh.flush()
                    tail = log_tail(self.log_path, 30, missing="(no log)")
                    if "Address already in use" in tail:
                        raise _PortTaken(f"radicale could not bind port {self.port}:\n{tail}")
                    raise SandboxError(
                        f"radicale (CalDAV) exited with {self._proc.returncode} on port "
                        f"{self.port}; is radicale installed (uv sync)? log {self.log_path}:\n"
                        + log_tail(self.log_path, 30, missing="(no log)")
                    )
                try:
                    client.get(f"{self.url}/.well-known/caldav")
                    return self  # any HTTP answer means it listens
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SandboxError(
                        f"radicale did not answer on port {self.port} within "
                        f"{self.startup_timeout:.0f} s; log {self.log_path}:\n"
                        + log_tail(self.log_path, 30, missing="(no log)")
                    )
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop Radicale's process group (SIGTERM, SIGKILL after 5 s), drop its storage."""
        proc, self._proc = self._proc, None
        if proc is not None:
            send_signal(proc.pid, signal.SIGTERM, group=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            send_signal(proc.pid, signal.SIGKILL, group=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
