"""pytest plugin: a real local n8n and the vendor sandbox, made by the project's own code.

Register with ``-p tests.n8n_fixtures`` or ``pytest_plugins = ["tests.n8n_fixtures"]``.

* ``n8n_install``: :func:`hub.n8n.install.ensure_n8n` (cached under ``$HUB_CACHE_DIR`` or
  ``~/.cache/agent-hub``; the first run takes minutes, later runs verify in well under 2 s).
* ``local_n8n``: n8n started in a temporary user folder on free ports, owner and API key
  provisioned; a :class:`RunningN8n` with ``url``, ``api_key``, ``user_folder``, ``client``.
* ``test_ca``: the CA of the tests' loopback HTTPS servers (``tests.tls_kit``), trusted by
  ``local_n8n`` through ``NODE_EXTRA_CA_CERTS``.
* ``sandbox``: :class:`hub.sandbox.Sandbox` on free ports (``base_url(vendor)``,
  ``requests(vendor)``, ``clear()``, ``fault(...)``).

If n8n or Prism cannot be installed or started, the fixture FAILS with the reason (never a
skip): the tests exist to run against the real parts.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.core.installs import InstallError
from hub.n8n.client import N8nClient
from hub.n8n.install import N8nInstall, ensure_n8n
from hub.n8n.local import LocalN8n, N8nStartError
from hub.n8n.provision import ProvisionError, provision_owner_and_key
from hub.sandbox import Sandbox, SandboxError, ensure_prism
from tests.tls_kit import LocalCA

OWNER_EMAIL = "owner@hub.test"
OWNER_PASSWORD = "Hub-Tests-Passw0rd"


def _ephemeral_low() -> int:
    try:
        return int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_run(n: int, host: str = "127.0.0.1") -> int:
    """A port p with p .. p+n-1 all free, below the kernel's ephemeral range.

    For a process given a base port that it counts up from (n8n's task broker takes the
    next port; `hub up --sandbox-port`: the mocks take the next ones). A free run inside the
    ephemeral range can be taken moments later by any outgoing connection's local port (a
    flake seen in CI); below it, only a listener could take it."""
    low = max(_ephemeral_low(), 2000)
    for _ in range(200):
        start = random.randrange(max(1024, low - 12000), low - n)
        try:
            for i in range(n):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((host, start + i))
        except OSError:
            continue
        return start
    raise RuntimeError(f"no {n} free consecutive ports below {low}")


def free_port_pair(host: str = "127.0.0.1") -> int:
    """A free port whose successor is free too (n8n's task-runner broker uses port+1)."""
    return free_run(2, host)


@dataclass
class RunningN8n:
    url: str
    api_key: str
    user_folder: Path
    client: N8nClient
    process: LocalN8n
    owner_email: str = OWNER_EMAIL
    owner_password: str = OWNER_PASSWORD

    @property
    def database_path(self) -> Path:
        return self.process.database_path

    def webhook_url(self, path: str) -> str:
        return f"{self.url}/webhook/{path.lstrip('/')}"


@pytest.fixture(scope="session")
def n8n_install() -> N8nInstall:
    try:
        return ensure_n8n(progress=True)
    except InstallError as exc:
        pytest.fail(
            f"the n8n install could not be made, so the n8n tests cannot run: {exc}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """The CA of the tests' HTTPS servers on loopback (tests.tls_kit); the test n8n trusts it."""
    return LocalCA.create(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def local_n8n(
    n8n_install: N8nInstall, tmp_path_factory: pytest.TempPathFactory, test_ca: LocalCA
) -> Iterator[RunningN8n]:
    folder = tmp_path_factory.mktemp("n8n-user")
    n8n = LocalN8n(
        n8n_install,
        folder,
        free_port_pair(),
        encryption_key=f"test-{uuid.uuid4().hex}",
        die_with_parent=True,  # no orphan n8n if the test process is killed
        # Documents a workflow fetches over https (DocuSign's send_contract) come from a
        # loopback server whose certificate this CA signed: verified, not ignored.
        extra_env={"NODE_EXTRA_CA_CERTS": str(test_ca.cert_path)},
    )
    try:
        n8n.start()
    except N8nStartError as exc:
        pytest.fail(f"local n8n did not start: {exc}", pytrace=False)
    client: N8nClient | None = None
    try:
        try:
            key = provision_owner_and_key(n8n.url, OWNER_EMAIL, OWNER_PASSWORD)
        except ProvisionError as exc:
            pytest.fail(f"could not provision the local n8n: {exc}", pytrace=False)
        client = N8nClient(n8n.url, key)
        yield RunningN8n(
            url=n8n.url, api_key=key, user_folder=n8n.user_folder, client=client, process=n8n
        )
    finally:
        if client is not None:
            client.close()
        n8n.stop()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    try:
        prism = ensure_prism(progress=True)
    except InstallError as exc:
        pytest.fail(
            f"Prism could not be installed, so the sandbox cannot run: {exc}", pytrace=False
        )
    sb = Sandbox(prism, 0, die_with_parent=True)
    try:
        sb.start()
    except SandboxError as exc:
        pytest.fail(f"the vendor sandbox did not start: {exc}", pytrace=False)
    try:
        yield sb
    finally:
        sb.stop()
