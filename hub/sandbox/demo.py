"""The demo tenant `hub up` creates: connections to every sandboxed vendor, fake credentials."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.connections import service as connections
from hub.core.errors import HubError
from hub.sandbox.vendors import sandbox_vendor
from vault import Vault


def demo_credentials() -> dict[str, dict[str, str]]:
    """Credentials of the right shape for each sandboxed vendor (random, not real)."""
    hexs = secrets.token_hex
    return {
        "twilio": {
            "account_sid": "AC" + hexs(16),
            "auth_token": hexs(16),
            "default_from": "+15005550006",
        },
        "sendgrid": {
            "api_key": "SG." + secrets.token_urlsafe(16) + "." + secrets.token_urlsafe(32),
            "from_email": "office@demo.example",
        },
        "mailgun": {
            "api_key": hexs(16),
            "domain": "mg.demo.example",
            "region": "us",
            "from_email": "office@demo.example",
        },
        "google_maps": {"api_key": "AIza" + secrets.token_urlsafe(27)[:35]},
        "stripe": {"secret_key": "sk_test_" + hexs(16)},
        "square": {"access_token": "EAAA" + hexs(16), "location_id": "LDEMO" + hexs(4)},
    }


def ensure_demo_tenant(
    s: Session,
    vault: Vault,
    base_url_for: Callable[[str], str],
    slug: str = "demo",
    *,
    caldav: tuple[str, str] | None = None,
) -> tuple[str, list[str]]:
    """Create (or refresh) the demo tenant and its sandbox connections; returns (id, slugs).

    ``caldav``: the sandbox CalDAV server's (user, password), for an Apple Calendar
    connection; the server only knows its own user, so random credentials would not do."""
    try:
        tenant = accounts.get_tenant(s, slug)
    except HubError:  # not_found: the first `hub up`
        tenant = accounts.create_tenant(s, slug, "Demo contractor")
    made: list[str] = []
    wanted = demo_credentials()
    if caldav is not None:
        wanted["apple_calendar"] = {"apple_id": caldav[0], "app_specific_password": caldav[1]}
    for integration, creds in wanted.items():
        base = base_url_for(sandbox_vendor(integration))
        existing = connections.connection_for(s, tenant.id, integration)
        if existing is None:
            connections.create_connection(
                s,
                vault,
                tenant.id,
                "hub-up",
                integration=integration,
                credentials=creds,
                base_url=base,
                account_label=f"{integration} (sandbox)",
                connected_via="demo",
            )
        else:
            if existing.base_url != base:
                existing.base_url = base  # the sandbox moved to another port
            if integration == "apple_calendar":
                # the sandbox's CalDAV password is new on every start
                connections.update_connection(
                    s, vault, tenant.id, "hub-up", existing.id, credentials=creds
                )
        made.append(integration)
    return tenant.id, made
