"""GET /api/capabilities: the real catalog, then synthetic catalogs up to 1,000 integrations.

Run: uv run python -m bench.capabilities_bench
Served in-process (FastAPI TestClient) on SQLite, so the numbers are the app's own cost.
"""

from __future__ import annotations

import base64
import secrets
import statistics
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from bench.stats import print_rows, summary, time_each
from hub.accounts import service as accounts
from hub.app import create_app
from hub.core.settings import Settings
from hub.registry.catalog import load_catalog
from hub.registry.spec import Catalog, ProviderSpec
from hub.registry.sync import sync_catalog
from hub.runtime import open_runtime


def synthetic(base: Catalog, n_integrations: int, n_tools: int) -> Catalog:
    """The real catalog plus n synthetic integrations and tools cloned from Twilio/send_sms."""
    twilio, sms = base.integration("twilio"), base.tool("send_sms")
    integrations = [
        twilio.model_copy(update={"slug": f"vendor_{k:04d}", "tools": []})
        for k in range(n_integrations)
    ]
    tools = [
        sms.model_copy(
            update={
                "name": f"tool_{n:03d}",
                "domain": sms.domain,
                "providers": [
                    ProviderSpec(
                        integration=f"vendor_{k:04d}", workflow=f"vendor_{k:04d}/x", default=k == n
                    )
                    for k in range(n, n_integrations, n_tools)
                ],
            }
        )
        for n in range(n_tools)
    ]
    return base.model_copy(
        update={"integrations": [*base.integrations, *integrations], "tools": [*base.tools, *tools]}
    )


def main() -> None:
    """Measure and print a Markdown table."""
    rows = []
    with tempfile.TemporaryDirectory() as d:
        settings = Settings(
            data_dir=Path(d),
            database_url=f"sqlite:///{d}/b.db",
            log_level="WARNING",
            master_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        )
        rt = open_runtime(settings)
        with rt.db.session() as s:
            t = accounts.create_tenant(s, "bench")
            _, token = accounts.create_token(s, t.id, "agent")
        headers = {"Authorization": f"Bearer {token}"}
        base = load_catalog()
        with TestClient(create_app(runtime=rt)) as client:
            for n in (0, 250, 500, 1000):
                with rt.db.session() as s:
                    sync_catalog(s, synthetic(base, n, 100) if n else base)
                r = client.get("/api/capabilities", headers=headers)
                assert r.status_code == 200, r.text
                size_kb = round(len(r.content) / 1024)
                xs = time_each(
                    lambda: client.get("/api/capabilities", headers=headers),
                    60 if n else 300,
                    warmup=5,
                )
                row = summary(f"{35 + n} integrations ({size_kb} KiB)", xs, 1e3, "ms")
                row["per_integration_us"] = round(statistics.median(xs) * 1e6 / (35 + n), 1)
                rows.append(row)
        rt.close()
    print_rows(rows)


if __name__ == "__main__":
    main()
