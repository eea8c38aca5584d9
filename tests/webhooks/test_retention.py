"""Dedupe keys outlive vendors' retries (SECURITY 12): a redelivery three days later is still
a duplicate; only delivered events past the 30-day retention are purged, dead ones stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from hub.db.base import utcnow
from hub.scheduler.jobs import job_purge_webhook_events
from hub.webhooks.models import WebhookEvent
from tests.webhooks import kit


@pytest.fixture
def worker_paused(app) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The app's delivery worker stays out of the way while the test sets statuses by hand.

    The app is shared by the session, so the worker is resumed afterwards: other tests wait
    on deliveries.
    """
    deliverer = app.state.webhooks.deliverer
    deliverer.paused = True
    try:
        yield
    finally:
        deliverer.paused = False


def test_redelivery_after_three_days_is_a_duplicate_and_purge_keeps_dead(
    worker_paused, client, tenant, hub_runtime
):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    bodies = [kit.stripe_event() for _ in range(3)]
    ids = [
        client.post(path, content=b, headers=kit.stripe_headers(b, secret)).json()["event_id"]
        for b in bodies
    ]
    with hub_runtime.db.session() as s:
        s.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == ids[0])
            .values(received_at=utcnow() - timedelta(days=3, hours=1))
        )
        for event_id, status in ((ids[1], "delivered"), (ids[2], "dead")):
            s.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id == event_id)
                .values(received_at=utcnow() - timedelta(days=31), status=status)
            )
    again = client.post(path, content=bodies[0], headers=kit.stripe_headers(bodies[0], secret))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert job_purge_webhook_events(hub_runtime) >= 1
    left = {e["id"] for e in client.get("/api/events", headers=tenant.h("admin")).json()["data"]}
    assert left == {ids[0], ids[2]}
