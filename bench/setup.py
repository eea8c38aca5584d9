"""The hub every benchmark starts from: a tenant, its agent token, Twilio, n8n registered."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from hub.accounts import service as accounts
from hub.connections import service as connections
from hub.core.settings import Settings
from hub.n8n.instance import register_instance
from hub.runtime import Runtime, open_runtime


def bench_hub(
    d: Path,
    n8n_url: str,
    *,
    port: int | None = None,
    n8n_key: str | None = None,
    twilio_base_url: str | None = None,
) -> tuple[Runtime, dict[str, str], str]:
    """An SQLite hub in `d`: (open runtime, environment for `hub serve`, agent token)."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env = {
        "HUB_DATA_DIR": str(d),
        "HUB_DATABASE_URL": f"sqlite:///{d}/hub.db",
        "HUB_MASTER_KEY": key,
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_SCHEDULER_ENABLED": "false",
    }
    if port is not None:
        env["HUB_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    rt = open_runtime(
        Settings(
            data_dir=d,
            database_url=env["HUB_DATABASE_URL"],
            master_key=key,
            port=port or 8000,
            public_url=env.get("HUB_PUBLIC_URL"),
        )
    )
    with rt.db.session() as s:
        t = accounts.create_tenant(s, "bench")
        _, token = accounts.create_token(s, t.id, "agent")
        connections.create_connection(
            s,
            rt.vault,
            t.id,
            "bench",
            integration="twilio",
            base_url=twilio_base_url,
            credentials={
                "account_sid": "AC" + "0" * 32,
                "auth_token": "f" * 32,
                "default_from": "+15005550006",
            },
        )
        register_instance(s, rt.vault, n8n_url, api_key=n8n_key)
    return rt, env, token
