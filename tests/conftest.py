"""Shared fixtures: a real hub on SQLite and on PostgreSQL, tenants with tokens."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from hub.accounts import service as accounts
from hub.app import create_app
from hub.core import caches
from hub.core.settings import Settings
from hub.runtime import Runtime, open_runtime

pytest_plugins = ["tests.n8n_fixtures", "tests.live_hub", "tests.mcp_results"]

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Every test starts with the process-wide caches empty (hub.core.caches)."""
    caches.clear_all()
    yield
    caches.clear_all()


def _pg_admin_url() -> tuple[str | None, str]:
    """The PostgreSQL server to create test databases on, or None with the reason."""
    url = os.environ.get("HUB_TEST_POSTGRES_URL")
    explicit = url is not None
    url = (url or PG_DEFAULT).replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        eng = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
        eng.dispose()
        return url, ""
    except Exception as exc:
        if explicit:
            raise RuntimeError(f"HUB_TEST_POSTGRES_URL is set but unusable: {exc}") from exc
        return None, f"no PostgreSQL answers at {PG_DEFAULT} and HUB_TEST_POSTGRES_URL is unset"


@pytest.fixture(scope="session")
def pg_server() -> str | None:
    """Admin URL of the PostgreSQL server (None when there is none)."""
    url, _ = _pg_admin_url()
    return url


def make_pg_database(admin_url: str) -> tuple[str, callable]:
    """Create a uniquely named database; returns its URL and a function dropping it."""
    name = f"hub_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as c:
            c.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return url, drop


def fresh_database_url(backend: str, tmp: Path, pg_admin: str | None) -> tuple[str, callable]:
    """A brand-new empty database of the backend, and its cleanup."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'hub-{secrets.token_hex(4)}.db'}", lambda: None
    if pg_admin is None:
        pytest.skip(_pg_admin_url()[1])
    return make_pg_database(pg_admin)


def new_master_key() -> str:
    """A random master key in the accepted text form."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def make_settings(tmp: Path, url: str, **over: object) -> Settings:
    """Settings for a test hub: its own data folder, database and master key."""
    values: dict[str, object] = {
        "data_dir": tmp,
        "database_url": url,
        "master_key": new_master_key(),
        "mode": "local",
        "log_format": "json",
        "scheduler_enabled": False,
        # Test servers (remote MCP servers, the sandbox) are on loopback (hub.core.outbound).
        "outbound_allow": "127.0.0.0/8,::1",
    }
    values.update(over)
    return Settings(**values)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every test using the hub runs once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture(scope="session")
def hub_runtime(
    backend: str, tmp_path_factory: pytest.TempPathFactory, pg_server: str | None
) -> Iterator[Runtime]:
    """A migrated, seeded hub runtime shared by a session (tests isolate by tenant)."""
    tmp = tmp_path_factory.mktemp(f"hub-{backend}")
    url, drop = fresh_database_url(backend, tmp, pg_server)
    rt = open_runtime(make_settings(tmp, url))
    yield rt
    rt.close()
    drop()


@pytest.fixture(scope="session")
def app(hub_runtime: Runtime):  # type: ignore[no-untyped-def]
    """The hub's ASGI app over the session runtime."""
    return create_app(runtime=hub_runtime)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """An HTTP client talking to the app in-process."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@dataclass
class TenantKit:
    """A tenant with one token of each kind."""

    id: str
    slug: str
    admin: str
    ops: str
    agent: str

    def h(self, kind: str = "admin") -> dict[str, str]:
        """Authorization header for the token of `kind`."""
        return {"Authorization": f"Bearer {getattr(self, kind)}"}


def create_tenant_kit(rt: Runtime, prefix: str = "t") -> TenantKit:
    """Create a tenant with admin, ops and agent tokens."""
    with rt.db.session() as s:
        t = accounts.create_tenant(s, f"{prefix}-{secrets.token_hex(4)}")
        toks = {
            k: accounts.create_token(s, t.id, k, f"test-{k}")[1] for k in ("admin", "ops", "agent")
        }
        return TenantKit(id=t.id, slug=t.slug, **toks)


@pytest.fixture
def tenant(hub_runtime: Runtime) -> TenantKit:
    """A fresh tenant for one test."""
    return create_tenant_kit(hub_runtime, "a")


@pytest.fixture
def other_tenant(hub_runtime: Runtime) -> TenantKit:
    """A second, unrelated tenant."""
    return create_tenant_kit(hub_runtime, "b")
