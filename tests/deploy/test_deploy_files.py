"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine runs here, so the
files are checked as data: every HUB_ variable is a real setting, n8n runs in queue mode and
keeps no execution data, the image holds what the hub loads at run time)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from hub.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_dependencies():
    c = compose()
    assert set(c["services"]) == {
        "postgres",
        "redis",
        "n8n",
        "n8n-worker",
        "hub-1",
        "hub-2",
        "lb",
    }
    for name, svc in c["services"].items():
        for dep in svc.get("depends_on", {}):
            assert dep in c["services"], f"{name} depends on unknown {dep}"
    assert c["services"]["n8n-worker"]["command"][0] == "worker"
    for hub in ("hub-1", "hub-2"):  # no manual step: each replica provisions n8n itself
        assert c["services"][hub]["build"] == "."
        assert c["services"][hub]["command"] == ["hub", "serve", "--provision-n8n"]


def test_hub_environment_names_real_settings():
    fields = set(Settings.model_fields)
    env = compose()["services"]["hub-1"]["environment"]
    for key in env:
        assert key.startswith("HUB_") and key[4:].lower() in fields, f"{key} is not a setting"
    assert env["HUB_MODE"] == "production"
    assert env["HUB_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_n8n_keeps_no_execution_data_and_runs_queued():
    for svc in ("n8n", "n8n-worker"):
        env = compose()["services"][svc]["environment"]
        assert env["EXECUTIONS_MODE"] == "queue"
        assert env["EXECUTIONS_DATA_PRUNE"] == "false"  # rows deleted at once (hub/n8n/local.py)
        assert env["EXECUTIONS_DATA_SAVE_ON_SUCCESS"] == "none"
        assert env["EXECUTIONS_DATA_SAVE_ON_ERROR"] == "none"
        assert env["N8N_BLOCK_ENV_ACCESS_IN_NODE"] == "true"


def test_secrets_come_from_the_environment_not_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    for var in ("HUB_MASTER_KEY", "POSTGRES_PASSWORD", "N8N_ENCRYPTION_KEY"):
        assert re.search(r"\$\{" + var + r":\?", text), f"{var} must be required from .env"


def test_dockerfile_ships_what_the_hub_loads():
    docker = (ROOT / "Dockerfile").read_text()
    for folder in ("hub", "vault", "registry_seed", "n8n_workflows"):
        assert f"COPY {folder} ./{folder}" in docker
    assert "uv sync --frozen --no-dev" in docker and 'CMD ["hub", "serve"]' in docker
    assert "USER hub" in docker  # not root
