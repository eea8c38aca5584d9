"""The deploy files read by the real tools: the Compose Specification's JSON Schema,
Debian's `docker-compose` 1.29 (`config`), `haproxy -c`. scripts/test installs both tools
(apt) when missing; without them these tests fail saying so, never skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "deploy" / "schema" / "compose-spec.json"
# The only variables a person sets (.env); dummy values here.
DOTENV = {"HUB_MASTER_KEY": "k" * 43, "POSTGRES_PASSWORD": "pw", "N8N_ENCRYPTION_KEY": "nk"}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: scripts/test installs Debian's package (apt-get install "
            f"{'docker-compose' if name == 'docker-compose' else name})",
            pytrace=False,
        )
    return path


def test_compose_file_matches_the_compose_spec_schema():
    schema = json.loads(SCHEMA.read_text())
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_docker_compose_1_29_accepts_the_file(tmp_path):
    env = {**os.environ, **DOTENV, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    out = subprocess.run(
        [tool("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    resolved = yaml.safe_load(out.stdout)
    assert {"hub-1", "hub-2", "lb", "n8n", "n8n-worker"} <= set(resolved["services"])
    assert resolved["services"]["n8n-worker"]["environment"]["EXECUTIONS_MODE"] == "queue"


def test_docker_compose_refuses_a_missing_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in DOTENV}
    env |= {k: v for k, v in DOTENV.items() if k != "HUB_MASTER_KEY"}
    out = subprocess.run(
        [tool("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode != 0 and "set HUB_MASTER_KEY in .env" in out.stderr


def test_haproxy_accepts_the_load_balancer_config(tmp_path):
    # The error pages sit where compose mounts them; here they are read from the checkout.
    cfg = (ROOT / "deploy" / "haproxy.cfg").read_text()
    assert "/usr/local/etc/haproxy/errors/" in cfg
    local = tmp_path / "haproxy.cfg"
    local.write_text(
        cfg.replace("/usr/local/etc/haproxy/errors", str(ROOT / "deploy" / "haproxy-errors"))
    )
    out = subprocess.run(
        [tool("haproxy"), "-c", "-f", str(local)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # the load balancer's backends are exactly the compose file's hub replicas
    servers = [
        line.split()[1]
        for line in (ROOT / "deploy" / "haproxy.cfg").read_text().splitlines()
        if line.strip().startswith("server ")
    ]
    hubs = [n for n in yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]]
    assert servers == [n for n in hubs if n.startswith("hub-")]


def test_the_balancers_own_errors_speak_the_hubs_shape():
    import json

    for code, kind in (
        (502, "outcome_unknown"),
        (503, "hub_unavailable"),
        (504, "outcome_unknown"),
    ):
        raw = (ROOT / "deploy" / "haproxy-errors" / f"{code}.http").read_bytes()
        head, body = raw.split(b"\r\n\r\n", 1)
        assert head.startswith(f"HTTP/1.1 {code} ".encode())
        assert f"content-length: {len(body)}".encode() in head
        assert json.loads(body)["error"]["kind"] == kind
