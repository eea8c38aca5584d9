"""The vendor sandbox: one Prism mock per vendor spec behind one recording reverse proxy.

``Sandbox(prism_bin, base_port).start()`` runs ``prism mock <spec> -p <port> -h 127.0.0.1``
for each spec in ``hub/sandbox/specs`` (request validation on, ``--errors`` off: Square's own
examples break its schemas) and a proxy on one port that routes ``/<vendor>/<rest>`` to that
vendor's Prism (``hub/sandbox/proxy.py``: forwarding, recordings, faults). A connection's base
URL is therefore ``http://127.0.0.1:<proxy>/<vendor>`` in tests and the vendor's real API in
production; the workflow is the same.

Apple Calendar has no OpenAPI spec (CalDAV is WebDAV), so its vendor is a real CalDAV server
(Radicale, ``hub/sandbox/caldav.py``) behind the same proxy: ``/apple_calendar/<rest>`` goes to
Radicale, recorded and fault-injectable like the mocks.

Why the proxy runs in-process (uvicorn in a background thread) rather than as a separate
process: tests read recordings and inject faults with direct method calls (no HTTP round
trip, no serialisation), it starts in milliseconds (Prism's start-up dominates), and its
life is tied to the ``Sandbox`` object, so nothing is left behind when a test session dies.
The HTTP endpoints exist for the n8n side and for ``python -m hub.sandbox``. Prism runs as
separate Node processes (one per spec, each in its own process group).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BufferedWriter
from pathlib import Path

import httpx

from hub.core.processes import die_with_parent_hook, free_port, log_tail, send_signal
from hub.sandbox.caldav import CalDavServer
from hub.sandbox.errors import SandboxError
from hub.sandbox.faults import Fault
from hub.sandbox.proxy import ProxyServer, build_app
from hub.sandbox.records import RecordedRequest
from hub.sandbox.state import SandboxState
from hub.sandbox.vendors import CALDAV_VENDOR, SPECS_DIR, available_vendors, sandbox_vendor

_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()


@dataclass
class _Mock:
    """One vendor's Prism process and where it listens and logs."""

    vendor: str
    spec: Path
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    log_fh: BufferedWriter | None = field(default=None, repr=False)


class Sandbox:
    """Prism mocks for the vendor specs, the CalDAV server, and the recording proxy.

    ``base_port``: 0 picks free ports; otherwise the proxy listens on ``base_port``, the
    mocks on ``base_port+1 ...`` (vendors in alphabetical order) and the CalDAV server on the
    port after the last mock's.
    """

    def __init__(
        self,
        prism_bin: str | os.PathLike[str],
        base_port: int = 0,
        *,
        vendors: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        specs_dir: Path = SPECS_DIR,
        log_dir: Path | None = None,
        startup_timeout: float = 90.0,
        die_with_parent: bool = False,
    ) -> None:
        self.prism_bin = Path(prism_bin)
        self.base_port = int(base_port)
        self.host = host
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        known = available_vendors(specs_dir)
        wanted = list(vendors) if vendors is not None else [*known, CALDAV_VENDOR]
        unknown = [v for v in wanted if v not in known and v != CALDAV_VENDOR]
        if unknown:
            raise SandboxError(
                f"no spec for vendor(s) {', '.join(unknown)} in {specs_dir}; "
                f"available: {', '.join([*known, CALDAV_VENDOR])}"
            )
        self._own_log_dir = log_dir is None
        self._keep_logs = False
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="hub-sandbox-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._mocks = {
            v: _Mock(vendor=v, spec=known[v], port=0, log_path=self.log_dir / f"prism-{v}.log")
            for v in sorted(wanted)
            if v != CALDAV_VENDOR
        }
        self.caldav: CalDavServer | None = None
        if CALDAV_VENDOR in wanted:
            self.caldav = CalDavServer(
                host,
                log_path=self.log_dir / "radicale.log",
                die_with_parent=die_with_parent,
            )
        self.state: SandboxState | None = None
        self._proxy: ProxyServer | None = None
        self.proxy_port: int | None = None

    # ------------------------------------------------------------------ urls
    @property
    def vendors(self) -> list[str]:
        """The vendors this sandbox serves, in alphabetical order."""
        return sorted([*self._mocks, *([CALDAV_VENDOR] if self.caldav else [])])

    @property
    def proxy_url(self) -> str:
        """The proxy's root URL (SandboxError before start)."""
        if self.proxy_port is None:
            raise SandboxError("the sandbox is not started")
        return f"http://{self.host}:{self.proxy_port}"

    def vendor(self, name: str) -> str:
        """The sandbox vendor for a vendor or integration name (``google_maps`` ->
        ``google_maps_geocode``)."""
        return sandbox_vendor(name)

    def base_url(self, vendor: str) -> str:
        """What a connection uses as the vendor's API base URL (an integration slug works
        too)."""
        vendor = self.vendor(vendor)
        if vendor not in self.vendors:
            raise SandboxError(
                f"unknown sandbox vendor {vendor!r}; known: {', '.join(self.vendors)}"
            )
        return f"{self.proxy_url}/{vendor}"

    def prism_url(self, vendor: str) -> str:
        """Where the vendor's Prism listens (bypassing the proxy)."""
        return f"http://{self.host}:{self._mocks[vendor].port}"

    def upstream_url(self, vendor: str) -> str:
        """Where the vendor's server listens (Prism, or Radicale for the CalDAV vendor)."""
        if vendor == CALDAV_VENDOR and self.caldav is not None:
            return self.caldav.url
        return self.prism_url(vendor)

    def caldav_server(self) -> CalDavServer:
        """The CalDAV server (its test user, password and calendar); SandboxError if off."""
        if self.caldav is None or self.state is None:
            raise SandboxError(f"this sandbox does not serve {CALDAV_VENDOR} or is not started")
        return self.caldav

    # ------------------------------------------------------------------ recordings / faults
    def _state(self) -> SandboxState:
        if self.state is None:
            raise SandboxError("the sandbox is not started")
        return self.state

    def requests(self, vendor: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, oldest first, of one vendor (or integration slug) or all."""
        return self._state().requests(self.vendor(vendor) if vendor else None)

    def clear(self) -> None:
        """Forget recorded requests and pending faults."""
        self._state().clear()
        self._state().clear_faults()

    def fault(
        self,
        vendor: str,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
        *,
        body: object = None,
        method: str | None = None,
        path_prefix: str | None = None,
        delay_s: float = 0.0,
    ) -> None:
        """The next ``times`` requests to ``vendor`` answer ``status`` (vendor-shaped body);
        with ``delay_s`` they wait first, and status 0 then passes them on to the vendor mock."""
        self._state().add_fault(
            Fault(
                self.vendor(vendor), status, times, retry_after, body, method, path_prefix, delay_s
            )
        )

    def require_tokens(self, vendor: str, check: Callable[[str], bool]) -> None:
        """From now on `vendor` answers only requests whose bearer token `check` accepts
        (401 in the vendor's shape otherwise); AuthServer.token_check builds one."""
        self._state().token_checks[self.vendor(vendor)] = check

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        """Start the mocks and the proxy (once); on failure stop what started and raise."""
        if self.state is not None:
            return self
        _LIVE.add(self)
        try:
            self._start_mocks()
            if self.caldav is not None:
                if self.base_port:
                    self.caldav.port = self.base_port + len(self._mocks) + 1
                self.caldav.start()
            self.state = SandboxState({v: self.upstream_url(v) for v in self.vendors})
            proxy_port = self.base_port if self.base_port else 0
            app = build_app(self.state)
            self._proxy = ProxyServer(app, self.host, proxy_port)
            self.proxy_port = self._proxy.start()
        except BaseException:
            self._keep_logs = True  # the error message names them
            self.stop()
            raise
        return self

    def _start_mocks(self) -> None:
        if not self.prism_bin.exists():
            raise SandboxError(
                f"prism not found at {self.prism_bin} (run hub.sandbox.install.ensure_prism())"
            )
        env = dict(os.environ)
        env.setdefault("NO_COLOR", "1")
        for i, mock in enumerate(self._mocks.values(), start=1):
            mock.port = self.base_port + i if self.base_port else free_port(self.host)
            mock.log_fh = open(mock.log_path, "ab")  # noqa: SIM115 - closed in stop()
            mock.proc = subprocess.Popen(
                [
                    str(self.prism_bin),
                    "mock",
                    str(mock.spec),
                    "-p",
                    str(mock.port),
                    "-h",
                    self.host,
                ],
                stdin=subprocess.DEVNULL,
                stdout=mock.log_fh,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent_hook(self.die_with_parent),
            )
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as client:
            for mock in self._mocks.values():
                while True:
                    assert mock.proc is not None
                    if mock.proc.poll() is not None:
                        raise SandboxError(
                            f"prism for {mock.vendor} ({mock.spec.name}) exited with "
                            f"{mock.proc.returncode} on port {mock.port}; log {mock.log_path}:\n"
                            + log_tail(mock.log_path, 30, missing="(no log)")
                        )
                    try:
                        client.get(f"http://{self.host}:{mock.port}/__sandbox_probe")
                        break  # any HTTP answer (404) means it listens
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise SandboxError(
                            f"prism for {mock.vendor} did not answer on port {mock.port} within "
                            f"{self.startup_timeout:.0f} s; log {mock.log_path}:\n"
                            + log_tail(mock.log_path, 30, missing="(no log)")
                        )
                    time.sleep(0.1)

    def stop(self) -> None:
        """Stop the proxy, the mocks and the CalDAV server (SIGTERM, then SIGKILL after 5 s);
        idempotent."""
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        if self.caldav is not None:
            self.caldav.stop()
        running = [(m, m.proc) for m in self._mocks.values() if m.proc is not None]
        for _, proc in running:
            send_signal(proc.pid, signal.SIGTERM, group=True)
        deadline = time.monotonic() + 5
        for m, proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            send_signal(proc.pid, signal.SIGKILL, group=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            m.proc = None
        for m in self._mocks.values():
            if m.log_fh is not None:
                m.log_fh.close()
                m.log_fh = None
        self.state = None
        self.proxy_port = None
        if self._own_log_dir and not self._keep_logs:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:  # pragma: no cover - interpreter shutdown
    for sb in list(_LIVE):
        with contextlib.suppress(Exception):
            sb.stop()
