"""The sandbox's OAuth authorization server: npm `oidc-provider` (OpenID certified), one
process standing in for every OAuth provider, each integration a client of its own.

``ensure_oidc_provider()`` installs the pinned package once into the tool cache (like Prism);
``AuthServer(clients).start()`` runs ``node authserver.mjs <config>`` on a free loopback port.
PKCE is required, access tokens live ``access_ttl`` seconds, and refresh tokens rotate only for
the clients marked ``rotate`` (where the real provider rotates). ``counts()`` reads how many
requests reached the token endpoint (the single-flight tests and the benchmark count them).
A client given ``accounts`` also gets DocuSign's ``GET /oauth/userinfo`` (the user's accounts,
each with its API host), which the hub reads after the grant.
With ``store`` (a file) the grants outlive the process: `hub up` restarts it next time and
the demo's refresh tokens still work.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx

from hub.core.installs import (
    Reporter,
    cache_root,
    check_prerequisites,
    locked_install_dir,
    quiet_npm_env,
    read_stripped,
    run_logged,
)
from hub.core.processes import (
    die_with_parent_hook,
    free_port,
    log_tail,
    private_dir,
    send_signal,
)
from hub.sandbox.errors import SandboxError

OIDC_PROVIDER_VERSION = "9.13.3"
SCRIPT = Path(__file__).with_name("authserver.mjs")


def ensure_oidc_provider(
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    *,
    version: str = OIDC_PROVIDER_VERSION,
) -> Path:
    """Install ``oidc-provider@version`` with the system npm once; return its folder."""
    install_dir = cache_root(cache_dir) / "oidc-provider" / version
    pkg = install_dir / "node_modules" / "oidc-provider" / "package.json"
    marker = install_dir / ".install-ok"
    stamp = f"oidc-provider={version}"

    def ok() -> bool:
        return read_stripped(marker) == stamp and pkg.exists()

    if ok():
        return install_dir
    with locked_install_dir(install_dir), Reporter(progress, "oidc-provider-install") as rep:
        if ok():
            return install_dir
        with rep.step("checking prerequisites (npm, node)"):
            check_prerequisites(
                ("npm", "node"),
                installing="oidc-provider",
                why="npm fetches oidc-provider and node runs the sandbox's authorization server.",
            )
        want = {
            "name": "local-oidc-provider",
            "private": True,
            "type": "module",
            "dependencies": {"oidc-provider": version},
        }
        (install_dir / "package.json").write_text(json.dumps(want) + "\n")
        with rep.step(f"npm install oidc-provider@{version}"):
            run_logged(
                [
                    shutil.which("npm") or "npm",
                    "install",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ],
                cwd=install_dir,
                env=quiet_npm_env(),
                log_path=install_dir / "install.log",
                step="npm install oidc-provider",
            )
        marker.write_text(stamp + "\n")
    return install_dir


@dataclass
class OAuthClient:
    """One integration's client at the sandbox authorization server."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    rotate: bool = False
    refresh: bool = True
    # client_secret_post or client_secret_basic, as the registry says the provider takes it.
    auth_method: str = "client_secret_post"
    # Answer refreshes without a refresh token, as Google does.
    omit_refresh_on_refresh: bool = False
    # DocuSign: the accounts `GET /oauth/userinfo` lists for this client's tokens
    # ({account_id, is_default, account_name, base_uri}); None: no userinfo for it.
    accounts: list[dict[str, object]] | None = None


@dataclass
class AuthServer:
    """A running oidc-provider; ``url`` is its issuer (authorize at /auth, token at /token)."""

    clients: list[OAuthClient]
    scopes: list[str] = field(default_factory=list)
    access_ttl: int = 60
    refresh_ttl: int = 86400
    # A file keeping grants and tokens across restarts (the demo); None: memory only.
    store: Path | None = None
    die_with_parent: bool = False
    cache_dir: str | None = None
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = None
    _dir: Path | None = None

    @property
    def url(self) -> str:
        """The issuer URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorize_url(self) -> str:
        """Where the consent flow starts."""
        return f"{self.url}/auth"

    @property
    def token_url(self) -> str:
        """The token endpoint."""
        return f"{self.url}/token"

    @property
    def revoke_url(self) -> str:
        """The revocation endpoint (RFC 7009)."""
        return f"{self.url}/token/revocation"

    @property
    def introspection_url(self) -> str:
        """The introspection endpoint (RFC 7662)."""
        return f"{self.url}/token/introspection"

    def start(self) -> AuthServer:
        """Install if needed, write the config, start node and wait until it answers."""
        install = ensure_oidc_provider(self.cache_dir)
        self.port = self.port or free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="hub-authserver-"))
        if self.store is not None:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            private_dir(self.store.parent)  # it holds the sandbox's refresh tokens
        conf = {
            "port": self.port,
            "access_ttl": self.access_ttl,
            "refresh_ttl": self.refresh_ttl,
            "store": str(self.store) if self.store else None,
            "scopes": sorted({"openid", "email", "offline_access", *self.scopes}),
            "clients": [c.__dict__ for c in self.clients],
        }
        conf_path = self._dir / "config.json"
        conf_path.write_text(json.dumps(conf))
        # The script imports oidc-provider from the install folder's node_modules.
        script = install / "authserver.mjs"
        shutil.copyfile(SCRIPT, script)
        log_path = self._dir / "authserver.log"
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                ["node", str(script), str(conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent_hook(self.die_with_parent),
            )
        deadline = time.monotonic() + 30
        while True:
            if self._proc.poll() is not None:
                raise SandboxError(
                    f"oidc-provider exited with {self._proc.returncode}:\n"
                    + log_tail(log_path, 30, missing="(no log)")
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/__counts", timeout=1).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise SandboxError("oidc-provider did not answer within 30 s")
            time.sleep(0.1)

    def counts(self) -> dict[str, int]:
        """Requests seen so far: token (all), refresh, authorization_code, revocation..."""
        return dict(httpx.get(f"{self.url}/__counts", timeout=5).json())

    @staticmethod
    def approve(authorize_url: str, login: str, *, stop_at: str) -> str:
        """Play the user at the consent pages: sign in as `login` (any password), approve, and
        return the redirect the server sends the browser to (the URL starting with
        `stop_at`, the hub's callback), without following it. The demo and the tests use it;
        the Chromium test clicks through the same pages."""
        with httpx.Client(follow_redirects=False, timeout=10) as b:
            r = b.get(authorize_url)
            for _ in range(12):
                loc = r.headers.get("location")
                if loc and loc.startswith(stop_at):
                    return loc
                if loc:
                    r = b.get(urljoin(str(r.url), loc))
                    continue
                form = re.search(r'<form[^>]*action="([^"]+)"', r.text)
                if not form:
                    raise SandboxError(f"the authorization server answered {r.status_code}")
                data = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', r.text))
                if 'name="login"' in r.text:
                    # oidc-provider's development sign-in takes any password.
                    data.update(login=login, password="sandbox")  # noqa: S106
                r = b.post(urljoin(str(r.url), form.group(1)), data=data)
        raise SandboxError("the consent flow did not come back to the hub")

    def delay_next_token(self, ms: int) -> None:
        """Hold the next token-endpoint answer back `ms` milliseconds."""
        httpx.get(f"{self.url}/__delay", params={"ms": ms}, timeout=5)

    def introspect(self, token: str, client: OAuthClient) -> dict[str, object]:
        """Ask the server whether an access token is current (RFC 7662)."""
        r = httpx.post(
            self.introspection_url,
            data={"token": token},
            auth=(client.client_id, client.client_secret),
            timeout=5,
        )
        return dict(r.json())

    def token_check(self, integration: str) -> Callable[[str], bool]:
        """A check that a bearer token is a current access token of the integration's client
        (for Sandbox.require_tokens)."""
        client = next(c for c in self.clients if c.client_id == f"hub-{integration}")

        def check(token: str) -> bool:
            try:
                return self.introspect(token, client).get("active") is True
            except (httpx.HTTPError, ValueError):
                return False

        return check

    def stop(self) -> None:
        """SIGTERM the node process group, SIGKILL after 5 s; idempotent."""
        if self._proc is not None:
            send_signal(self._proc.pid, signal.SIGTERM, group=True)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                send_signal(self._proc.pid, signal.SIGKILL, group=True)
                self._proc.wait(5)
            self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> AuthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
