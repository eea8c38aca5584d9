"""The `hub` command as a user runs it: serve, tenants, tokens, vault, master-key errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_database_url, new_master_key


def hub(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `hub ARGS` in a subprocess with the given environment."""
    p = subprocess.run(
        [sys.executable, "-m", "hub", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check and p.returncode != 0:
        raise AssertionError(f"hub {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


@pytest.fixture
def env(backend, tmp_path, pg_server):
    url, drop = fresh_database_url(backend, tmp_path, pg_server)
    e = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    e.update(
        {
            "HUB_DATA_DIR": str(tmp_path / "data"),
            "HUB_DATABASE_URL": url,
            "HUB_LOG_FORMAT": "console",
            "HUB_SCHEDULER_ENABLED": "false",
        }
    )
    yield e
    drop()


def test_tenants_tokens_and_vault_lifecycle(env):
    env["HUB_MASTER_KEY"] = new_master_key()
    out = hub(env, "tenants", "create", "acme", "--name", "Acme Windows").stdout
    assert "acme" in out
    tok = hub(env, "tokens", "create", "--tenant", "acme", "--kind", "admin")
    raw = tok.stdout.strip()
    assert raw.startswith("hub_admin_") and "shown once" in tok.stderr
    listed = hub(env, "tokens", "list", "--tenant", "acme").stdout
    assert raw not in listed and raw[:14] in listed

    status = hub(env, "vault", "status").stdout
    assert "1 (current)" in status
    assert "version 2 is now current" in hub(env, "vault", "rotate").stdout
    refused = hub(env, "vault", "retire", "2", check=False)
    assert refused.returncode != 0 and "current" in refused.stderr
    assert "rewrapped" in hub(env, "vault", "rewrap").stdout
    assert "retired" in hub(env, "vault", "retire", "1").stdout
    assert "retired" in hub(env, "vault", "status").stdout

    tok_id = [ln.split()[1] for ln in listed.splitlines() if "hub_admin_" in ln]
    assert tok_id or "tok_" in listed


def test_wrong_master_key_is_a_clear_error_at_start(env):
    env["HUB_MASTER_KEY"] = new_master_key()
    hub(env, "tenants", "create", "acme")
    env["HUB_MASTER_KEY"] = new_master_key()
    p = hub(env, "tenants", "list", check=False)
    assert p.returncode == 2
    assert "master key" in p.stderr.lower() and "Traceback" not in p.stderr
    env["HUB_MASTER_KEY"] = "too-short"
    p = hub(env, "tenants", "list", check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_production_mode_refuses_to_start_without_master_key(env):
    env["HUB_MODE"] = "production"
    p = hub(env, "tenants", "list", check=False)
    assert p.returncode == 2 and "HUB_MASTER_KEY" in p.stderr


def test_local_mode_generates_a_private_master_key(env):
    p = hub(env, "tenants", "create", "acme")
    key = Path(env["HUB_DATA_DIR"]) / "master.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    assert str(key) in p.stderr
    hub(env, "tenants", "list")  # the generated key is reused


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_migrates_seeds_and_prints_the_url(env):
    port = free_port()
    env["HUB_MASTER_KEY"] = new_master_key()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, "hub serve never became ready"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/docs" in out


def test_mcp_servers_add_list_approve_refresh_remove(env):
    """`hub mcp-servers` against an SDK-built server on loopback."""
    from tests.federation.servers import Remote, _app_of, serve

    env["HUB_MASTER_KEY"] = new_master_key()
    env["HUB_OUTBOUND_ALLOW"] = "127.0.0.0/8"
    env["TOOL_TOKEN"] = "remote-" + os.urandom(8).hex()
    hub(env, "tenants", "create", "mcpco")
    rem = Remote()
    rem.seed()
    with serve(_app_of(rem)) as base:
        out = hub(
            env,
            "mcp-servers",
            "add",
            "tools",
            base + "/mcp",
            "--tenant",
            "mcpco",
            "--auth",
            "bearer",
            "--secret-env",
            "TOOL_TOKEN",
        )
        assert "registered" in out.stdout and "9 tool(s)" in out.stdout, out.stdout
        listed = hub(env, "mcp-servers", "list", "--tenant", "mcpco").stdout
        assert "connected" in listed and "pending:9" in listed
        assert env["TOOL_TOKEN"] not in listed + out.stdout + out.stderr
        ok = hub(env, "mcp-servers", "approve", "tools", "echo", "--tenant", "mcpco").stdout
        assert "tools__echo approved as unrestricted" in ok
        rem.tools["echo"] = rem.tools["echo"].model_copy(update={"description": "New words."})
        again = hub(env, "mcp-servers", "refresh", "tools", "--tenant", "mcpco").stdout
        assert "held: echo" in again
        shown = hub(env, "mcp-servers", "approve", "tools", "echo", "--tenant", "mcpco").stdout
        assert "changed description" in shown and "New words." in shown
    refused = hub(
        env,
        "mcp-servers",
        "add",
        "meta",
        "http://169.254.169.254/",
        "--tenant",
        "mcpco",
        check=False,
    )
    assert refused.returncode != 0 and "cloud metadata" in refused.stderr
    hub(env, "mcp-servers", "remove", "tools", "--tenant", "mcpco")
    assert "mcs_" not in hub(env, "mcp-servers", "list", "--tenant", "mcpco").stdout


def test_mcp_servers_add_oauth_then_authorize_prints_the_consent_url(env):
    """An OAuth server from the CLI: registered waiting for consent; `authorize` discovers
    the real authorization server and prints the URL (PKCE, resource, the given client)."""
    import secrets as _secrets
    from urllib.parse import parse_qs, urlsplit

    from hub.sandbox.authserver import AuthServer, OAuthClient
    from tests.federation.protected import protected_server

    env["HUB_MASTER_KEY"] = new_master_key()
    env["HUB_OUTBOUND_ALLOW"] = "127.0.0.0/8"
    env["CLIENT_SECRET"] = "client-" + os.urandom(8).hex()
    env["COLUMNS"] = "250"  # rich wraps table cells to the terminal's width
    rs = OAuthClient("mcp-resource", _secrets.token_urlsafe(24), ["http://127.0.0.1/none"])
    hub(env, "tenants", "create", "oauthco")
    with (
        AuthServer([rs], scopes=["mcp:tools"]) as issuer,
        protected_server(issuer, rs) as (
            url,
            _,
        ),
    ):
        out = hub(
            env, "mcp-servers", "add", "secure", url, "--tenant", "oauthco", "--auth", "oauth",
            "--client-id", "hub-pre", "--secret-env", "CLIENT_SECRET",
        )  # fmt: skip
        assert "hub mcp-servers authorize secure" in out.stdout, out.stdout
        assert "needs_auth" in hub(env, "mcp-servers", "list", "--tenant", "oauthco").stdout
        got = hub(env, "mcp-servers", "authorize", "secure", "--tenant", "oauthco").stdout
        link = next(line for line in got.splitlines() if line.startswith(issuer.url))
        q = parse_qs(urlsplit(link).query)
        assert q["client_id"] == ["hub-pre"] and q["resource"] == [url]
        assert q["code_challenge_method"] == ["S256"] and q["scope"] == ["mcp:tools offline_access"]
        assert env["CLIENT_SECRET"] not in out.stdout + out.stderr + got


def test_oauth_register_keeps_the_secret_out_of_sight(env):
    env["HUB_MASTER_KEY"] = new_master_key()
    secret = "oauth-secret-canary-" + os.urandom(8).hex()
    p = subprocess.run(
        [sys.executable, "-m", "hub", "oauth", "register", "google_calendar",
         "--client-id", "123.apps.example", "--client-secret-stdin"],
        env=env, input=secret + "\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "redirect URI to register at the provider: http://127.0.0.1:8000/oauth/callback" in (
        p.stdout.replace("\n", "")
    )
    listed = hub(env, "oauth", "list").stdout
    assert "123.apps.example" in listed and secret not in listed and secret not in p.stdout
    refused = hub(env, "oauth", "register", "twilio", "--client-id", "x", check=False)
    assert refused.returncode != 0 and "does not connect through OAuth" in refused.stderr


def test_oauth_register_for_a_tenant(env):
    """`--tenant` registers that tenant's own app (listed with its scope, secret masked); it
    takes no endpoints of its own (they stay the operator's)."""
    env["HUB_MASTER_KEY"] = new_master_key()
    hub(env, "tenants", "create", "acme")
    secret = "tenant-oauth-canary-" + os.urandom(8).hex()
    p = subprocess.run(
        [sys.executable, "-m", "hub", "oauth", "register", "outlook_calendar", "--tenant", "acme",
         "--client-id", "acme-graph-app", "--client-secret-stdin"],
        env=env, input=secret + "\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "registered tenant acme's OAuth app for outlook_calendar" in p.stdout
    listed = hub(env, "oauth", "list").stdout
    assert "tenant acme" in listed and "acme-graph-app" in listed and secret not in listed
    refused = hub(
        env,
        "oauth",
        "register",
        "outlook_calendar",
        "--tenant",
        "acme",
        "--client-id",
        "x",
        "--token-url",
        "https://login.example/token",
        check=False,
    )
    assert refused.returncode != 0 and "instance's endpoints" in refused.stderr
