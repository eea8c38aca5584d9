"""The sandbox's OAuth providers: one oidc-provider client per OAuth integration the sandbox
serves, with the real provider's habits, the hub's apps registered against it, and the demo
tenant's calendars connected through the real flow (`hub up`). Tests use the same pieces
(tests/connections/oauth_kit.py)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx

from hub.connections import service as connections
from hub.connections.oauth import apps, flow
from hub.core.errors import HubError
from hub.runtime import Runtime
from hub.sandbox.authserver import AuthServer, OAuthClient
from hub.sandbox.errors import SandboxError
from hub.sandbox.runner import Sandbox

log = logging.getLogger("hub.sandbox.oauth")

# Which sandbox clients stand for which integration, with the real provider's habits:
# Google never rotates and answers refreshes without a refresh token; Microsoft rotates.
# DocuSign takes the client secret by Basic auth and lists the user's accounts at userinfo,
# each with its own API host; the one marked default becomes the connection's.
DOCUSIGN_ACCOUNT = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
DOCUSIGN_OTHER_ACCOUNT = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
DOCUSIGN_ACCOUNTS = [
    {
        "account_id": DOCUSIGN_OTHER_ACCOUNT,
        "is_default": False,
        "account_name": "Sparkle Holdings",
        "base_uri": "https://eu.docusign.net",
    },
    {
        "account_id": DOCUSIGN_ACCOUNT,
        "is_default": True,
        "account_name": "Sparkle Window Cleaning",
        "base_uri": "https://demo.docusign.net",
    },
]
HABITS: dict[str, dict[str, object]] = {
    "google_calendar": {"omit_refresh_on_refresh": True},
    "outlook_calendar": {"rotate": True},
    "google_business_profile": {"omit_refresh_on_refresh": True},
    "docusign": {"auth_method": "client_secret_basic", "accounts": DOCUSIGN_ACCOUNTS},
}
SCOPES = [
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/business.manage",
    "User.Read",
    "Calendars.ReadWrite",
    "signature",
    "extended",
]
# What `hub up` connects for the demo tenant, and who signs in at the consent page.
DEMO_CALENDARS = ("google_calendar", "outlook_calendar")
DEMO_LOGIN = "office@demo.example"
DEMO_ACTOR = "hub-up"
# Like the real providers: an hour-long access token; a refresh token that lives for weeks,
# so the next day's `hub up` still refreshes instead of asking for consent again.
DEMO_ACCESS_TTL_S = 3600
DEMO_REFRESH_TTL_S = 30 * 86400


def client_id_for(integration: str) -> str:
    """The sandbox client id standing for an integration."""
    return f"hub-{integration}"


def clients_for(
    redirect_uris: list[str], integrations: tuple[str, ...] | None = None
) -> list[OAuthClient]:
    """One sandbox client per integration (all known ones by default), secret random per run."""
    return [
        OAuthClient(
            client_id=client_id_for(slug),
            client_secret=secrets.token_urlsafe(24),
            redirect_uris=redirect_uris,
            **habits,  # type: ignore[arg-type]
        )
        for slug, habits in HABITS.items()
        if integrations is None or slug in integrations
    ]


def start_auth_server(redirect_uris: list[str], access_ttl: int = 60) -> AuthServer:
    """A running oidc-provider for these redirect URIs (every known client)."""
    return AuthServer(clients_for(redirect_uris), scopes=SCOPES, access_ttl=access_ttl).start()


def client_of(server: AuthServer, integration: str) -> OAuthClient:
    """The sandbox client standing for an integration."""
    return next(c for c in server.clients if c.client_id == client_id_for(integration))


def register_apps(rt: Runtime, server: AuthServer, actor: str = "operator") -> None:
    """Register the instance's OAuth apps, endpoints pointed at the sandbox server."""
    with rt.db.session() as s:
        for c in server.clients:
            apps.register_app(
                s,
                rt.vault,
                actor,
                integration=c.client_id.removeprefix("hub-"),
                client_id=c.client_id,
                client_secret=c.client_secret,
                authorize_url=server.authorize_url,
                token_url=server.token_url,
                revoke_url=server.revoke_url,
            )


def _is_sandbox_app(app: object) -> bool:
    """Whether an instance app is one `hub up` registered (a sandbox client on loopback)."""
    client_id = str(getattr(app, "client_id", ""))
    token_url = str(getattr(app, "token_url", "") or "")
    return client_id.startswith("hub-") and token_url.startswith("http://127.0.0.1:")


def demo_auth_server(rt: Runtime, data_dir: Path, redirect_uri: str) -> AuthServer:
    """The demo's authorization server (not started), with a client for each calendar the
    demo may connect: a calendar whose instance app an operator registered (their real Google
    or Microsoft app) is left alone, since `hub up` never replaces it with the sandbox's."""
    usable: list[str] = []
    with rt.db.session() as s:
        for slug in DEMO_CALENDARS:
            app = apps.get_app(s, slug)
            if app is None or _is_sandbox_app(app):
                usable.append(slug)
    return AuthServer(
        clients_for([redirect_uri], tuple(usable)),
        scopes=SCOPES,
        access_ttl=DEMO_ACCESS_TTL_S,
        refresh_ttl=DEMO_REFRESH_TTL_S,
        store=data_dir / "authserver" / "grants.json",
        die_with_parent=True,
    )


@dataclass(frozen=True)
class DemoCalendar:
    """How one demo calendar ended up: kept (its tokens still passed Save & Test),
    connected (through the flow), or failed (with why)."""

    integration: str
    outcome: str
    status: str
    message: str = ""


def connect_demo_calendars(
    rt: Runtime,
    server: AuthServer,
    sandbox: Sandbox,
    tenant_id: str,
    hub_url: str,
    admin_token: str,
) -> list[DemoCalendar]:
    """Connect the demo tenant's calendars through the real OAuth flow, or keep them.

    The hub must be serving at `hub_url` (the callback and Save & Test go through it). A
    connection that is connected with the sandbox app's tokens is kept when Save & Test still
    passes (a refresh at the edge is fine); anything else is connected again: start, the
    authorization server's sign-in and consent pages (played by AuthServer.approve), the
    hub's /oauth/callback, tokens into the vault, then Save & Test."""
    register_apps(rt, server, actor=DEMO_ACTOR)
    slugs = [c.client_id.removeprefix("hub-") for c in server.clients]
    for slug in slugs:
        # As in production: the vendor API takes only current access tokens.
        sandbox.require_tokens(slug, server.token_check(slug))
    done: list[DemoCalendar] = []
    with httpx.Client(base_url=hub_url, timeout=90) as http:
        auth = {"Authorization": f"Bearer {admin_token}"}
        for slug in slugs:
            try:
                kept = _keep(rt, http, auth, sandbox, tenant_id, slug)
                done.append(kept or _connect(rt, http, server, sandbox, tenant_id, hub_url, slug))
            except (HubError, SandboxError, httpx.HTTPError, KeyError, ValueError) as exc:
                why = exc.message if isinstance(exc, HubError) else str(exc)
                log.warning("demo calendar not connected", extra={"integration": slug})
                done.append(DemoCalendar(slug, "failed", "not connected", why[:300]))
    return done


def _keep(
    rt: Runtime,
    http: httpx.Client,
    auth: dict[str, str],
    sandbox: Sandbox,
    tenant_id: str,
    slug: str,
) -> DemoCalendar | None:
    """Keep a connection whose tokens still work (Save & Test passes); None: reconnect."""
    with rt.db.session() as s:
        conn = connections.connection_for(s, tenant_id, slug)
        if conn is None or conn.status != "connected" or not conn.credential_id:
            return None
        if (conn.oauth_app or apps.INSTANCE) != apps.INSTANCE:
            return None  # made with a tenant app of its own: the demo's client cannot refresh it
        conn.base_url = sandbox.base_url(slug)  # the sandbox may listen elsewhere this time
        conn_id = conn.id
    r = http.post(f"/api/connections/{conn_id}/test", headers=auth)
    r.raise_for_status()
    got = r.json()
    if got.get("status") == "connected":
        return DemoCalendar(slug, "kept", "connected", str(got.get("message", "")))
    return None


def _connect(
    rt: Runtime,
    http: httpx.Client,
    server: AuthServer,
    sandbox: Sandbox,
    tenant_id: str,
    hub_url: str,
    slug: str,
) -> DemoCalendar:
    """The whole flow for one calendar, as a person would go through it."""
    callback = apps.redirect_uri(hub_url)
    with rt.db.session() as s:
        url = flow.start(
            s,
            rt.vault,
            tenant_id=tenant_id,
            user_id=None,
            actor=DEMO_ACTOR,
            integration=slug,
            public_url=hub_url,
            connected_via="demo",
            base_url=sandbox.base_url(slug),
        )
    back = server.approve(url, DEMO_LOGIN, stop_at=callback)
    # The hub's own callback: it checks the state, exchanges the code, stores the tokens and
    # runs Save & Test before it answers.
    r = http.get(back.removeprefix(hub_url.rstrip("/")))
    if r.status_code != 200:
        raise SandboxError(f"the hub's callback answered {r.status_code}: {r.text[:200]}")
    conn_id = str(r.json()["connection_id"])
    with rt.db.session() as s:
        conn = connections.get_connection(s, tenant_id, conn_id)
        return DemoCalendar(slug, "connected", conn.status, conn.last_error or "")
