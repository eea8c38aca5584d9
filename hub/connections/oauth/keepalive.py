"""The scheduler's token job: refresh access tokens before they expire (each provider's lead
time is registry data, `refresh_lead_s`) and refresh idle connections whose provider lets
unused refresh tokens die (`keep_alive_days`), so a calendar nobody touched for a month is
still connected when it is needed."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import select

from hub.connections.models import Connection
from hub.connections.oauth.provider import DEFAULT_REFRESH_LEAD_S
from hub.connections.oauth.refresh import Refresher
from hub.core.errors import HubError
from hub.db.base import utcnow
from hub.db.engine import Database
from hub.registry.service import list_integrations

log = logging.getLogger("hub.connections.oauth.keepalive")


def refresh_due(db: Database, refresher: Refresher) -> int:
    """Refresh every usable OAuth connection that is due; returns how many were refreshed."""
    now = utcnow()
    with db.session() as s:
        quirks = {
            i.slug: i.definition.get("oauth", {})
            for i in list_integrations(s)
            if i.auth_type == "oauth2"
        }
        rows = s.execute(
            select(
                Connection.id,
                Connection.tenant_id,
                Connection.integration_slug,
                Connection.token_expires_at,
            ).where(
                Connection.integration_slug.in_(list(quirks)),
                Connection.status.in_(("connected", "warning")),
                Connection.credential_id.is_not(None),
            )
        ).all()
    done = 0
    for conn_id, tenant_id, slug, expires_at in rows:
        o = quirks.get(slug, {})
        if not o.get("refresh", True):
            continue
        lead = int(o.get("refresh_lead_s", DEFAULT_REFRESH_LEAD_S))
        keep = o.get("keep_alive_days")
        try:
            if expires_at is not None and expires_at <= now + timedelta(seconds=lead):
                before = time.time()
                got = refresher.refresh_sync(tenant_id, conn_id, min_valid_s=lead)
                done += int(float(got.get("refreshed_at", 0)) >= int(before))
            elif keep is not None:
                # Decrypting only for providers whose refresh tokens die idle.
                got = refresher.refresh_sync(tenant_id, conn_id, min_valid_s=0)
                idle = time.time() - float(got.get("refreshed_at", 0))
                if idle > int(keep) * 86400:
                    refresher.refresh_sync(tenant_id, conn_id, force=True)
                    done += 1
        except HubError as exc:
            # The refresher recorded the health change; the job moves on to the next one.
            log.warning(
                "scheduled token refresh failed",
                extra={"connection_id": conn_id, "integration": slug, "kind": exc.kind},
            )
    return done
