"""A hub's first start against its n8n: owner, API key (kept in the vault), workflows deployed.

`hub up` does this for its local n8n; `hub serve --provision-n8n` does it for the n8n of a
compose stack, so a self-hoster never creates an n8n key by hand. Several replicas may start
at once on one PostgreSQL: a session-level advisory lock lets one provision while the others
wait, then find the stored key and check it works (otherwise each would set up a different
owner password and only one could ever log in again).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import text

from hub.core.errors import HubError
from hub.n8n.client import N8nClient, N8nError
from hub.n8n.deploy import DeployResult, deploy_all
from hub.n8n.instance import HubParts, get_instance, register_instance, secret_of
from hub.n8n.provision import ProvisionError, provision_owner_and_key

log = logging.getLogger("hub.n8n.bootstrap")
LOCK_KEY = 0x4855_424E  # "HUBN": provisioning n8n, one replica at a time
OWNER_EMAIL = "owner@hub.local"


@contextmanager
def provisioning_lock(rt: HubParts) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock for the block (SQLite has one hub: no lock)."""
    if rt.db.url.startswith("sqlite"):
        yield
        return
    with rt.db.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            conn.commit()


def wait_for_n8n(url: str, timeout: float = 180.0) -> None:
    """Wait until n8n is ready (readiness and settings both 200), or raise n8n_unavailable."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=3.0) as http:
        while True:
            try:
                if (
                    http.get(f"{url}/healthz/readiness").status_code == 200
                    and http.get(f"{url}/rest/settings").status_code == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise HubError(
                    "n8n_unavailable",
                    f"n8n at {url} was not ready after {timeout:.0f} s; check that it runs "
                    "and that HUB_N8N_URL points at it.",
                )
            time.sleep(0.5)


def _stored_key_works(rt: HubParts, url: str) -> bool:
    with rt.db.session() as s:
        inst = get_instance(s)
        key = secret_of(s, rt.vault, inst.api_key_credential_id, "api_key") if inst else None
    if not key:
        return False
    client = N8nClient(url, key)
    try:
        client.list_workflows()
        return True
    except N8nError:
        return False  # revoked, or a new n8n database: provision again
    finally:
        client.close()


def ensure_api_key(rt: HubParts, url: str) -> bool:
    """Make sure the vault holds a working key for n8n at ``url``; True when one was made."""
    if _stored_key_works(rt, url):
        with rt.db.session() as s:
            register_instance(s, rt.vault, url)
        return False
    with rt.db.session() as s:
        inst = get_instance(s)
        owner = (
            rt.vault.read(s, "system", inst.owner_credential_id)
            if (inst and inst.owner_credential_id)
            else None
        )
    owner = owner or {"email": OWNER_EMAIL, "password": secrets.token_urlsafe(18) + "A1"}
    try:
        key = provision_owner_and_key(url, owner["email"], owner["password"], label=_label())
    except ProvisionError as exc:
        raise HubError("n8n_unavailable", str(exc)) from None
    with rt.db.session() as s:
        register_instance(s, rt.vault, url, api_key=key, owner=owner)
    log.info("n8n provisioned", extra={"n8n_url": url})
    return True


def _label() -> str:
    # n8n refuses a second key with the same label for one user.
    return f"hub-{int(time.time())}-{secrets.token_hex(3)}"


def bootstrap(rt: HubParts, url: str, *, deploy: bool = True) -> list[DeployResult]:
    """Wait for n8n, provision it once (across replicas), deploy the workflows."""
    url = url.rstrip("/")
    wait_for_n8n(url)
    with provisioning_lock(rt):
        ensure_api_key(rt, url)
        return deploy_all(rt, actor="bootstrap") if deploy else []
