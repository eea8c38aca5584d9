"""The webhooks domain's door: what REST, MCP, the console and the CLI may call."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.connections.service import get_connection
from hub.webhooks import endpoints, events
from hub.webhooks.endpoints import configure, ensure_endpoint, get_endpoint, webhook_url
from hub.webhooks.events import dead_count, get_event, list_events, purge_old, replay
from hub.webhooks.models import EVENT_STATUSES, WebhookEndpoint, WebhookEvent
from vault import Vault

__all__ = [
    "EVENT_STATUSES",
    "WebhookEndpoint",
    "WebhookEvent",
    "configure",
    "connection_webhook",
    "dead_count",
    "ensure_endpoint",
    "event_view",
    "get_endpoint",
    "get_event",
    "list_events",
    "purge_old",
    "replay",
    "webhook_url",
    "webhook_url_for",
]


def webhook_url_for(s: Session, base_url: str, tenant_id: str, connection_id: str) -> str | None:
    """The connection's webhook URL (its endpoint made on first use); None when the
    integration sends no webhooks the hub can verify."""
    ep = endpoints.endpoint_for(s, connection_id)
    if ep is None or ep.tenant_id != tenant_id:
        conn = get_connection(s, tenant_id, connection_id)
        if endpoints.integration_scheme(s, conn.integration_slug) is None:
            return None
        ep = ensure_endpoint(s, tenant_id, connection_id)
    return webhook_url(base_url, ep.provider, ep.id)


def connection_webhook(
    s: Session, vault: Vault, base_url: str, tenant_id: str, connection_id: str
) -> dict[str, Any]:
    """A connection's webhook settings as shown: URL, scheme, masked secret hints, refusals."""
    ep = ensure_endpoint(s, tenant_id, connection_id)
    scheme = ep.scheme or endpoints.integration_scheme(s, ep.provider)
    return {
        "endpoint_id": ep.id,
        "webhook_url": webhook_url(base_url, ep.provider, ep.id),
        "provider": ep.provider,
        "scheme": scheme,
        "scheme_overridden": ep.scheme is not None,
        "secrets": endpoints.hints(s, vault, ep),
        "refused_count": ep.refused_count,
        "last_refused_at": ep.last_refused_at,
        "last_refusal": ep.last_refusal,
    }


def event_view(ev: WebhookEvent, *, with_payload: bool = True) -> dict[str, Any]:
    """An event as REST, MCP and the console show it."""
    out: dict[str, Any] = {
        "id": ev.id,
        "provider": ev.provider,
        "type": ev.event_type,
        "status": ev.status,
        "attempts": ev.attempts,
        "replays": ev.replays,
        "last_error": ev.last_error,
        "vendor_event_id": ev.dedupe_key,
        "received_at": ev.received_at,
        "next_attempt_at": ev.next_attempt_at if ev.status == "received" else None,
        "delivered_at": ev.delivered_at,
        "result": ev.result,
    }
    if with_payload:
        out["payload"] = events.payload(ev)
    return out
