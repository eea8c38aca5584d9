"""The door's group commit (hub.webhooks.intake): many concurrent posts, copies among them,
share transactions; every acknowledged event is stored exactly once, and of each vendor
event exactly one acknowledgement says new."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import httpx

from tests.webhooks import kit


def test_concurrent_posts_with_copies_store_each_event_once(client, tenant):
    secret = kit.stripe_secret()
    path = kit.stripe_endpoint(client, tenant, secret)
    bodies = [kit.stripe_event() for _ in range(60)]
    # Each event one to three times, shuffled: copies land in the same batch or a later one.
    posts = [b for b in bodies for _ in range(random.randint(1, 3))]
    random.shuffle(posts)
    door = client.app.state.webhook_door
    batches_before = door.intake.batches

    async def post_all() -> list[tuple[bytes, httpx.Response]]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            sent = [c.post(path, content=b, headers=kit.stripe_headers(b, secret)) for b in posts]
            return list(zip(posts, await asyncio.gather(*sent), strict=True))

    answers = client.portal.call(post_all)  # on the app's own event loop
    assert all(r.status_code == 200 for _, r in answers), [r.text for _, r in answers][:3]
    new = Counter(json.loads(b)["id"] for b, r in answers if r.json()["duplicate"] is False)
    assert set(new) == {json.loads(b)["id"] for b in bodies}
    assert set(new.values()) == {1}
    acked_ids = {r.json()["event_id"] for _, r in answers if r.json()["duplicate"] is False}
    # Concurrent posts were grouped: fewer transactions than events.
    assert door.intake.batches - batches_before < len(posts)

    stored: list[dict] = []
    before = None
    while True:
        params = {"provider": "stripe", "limit": 200, **({"before": before} if before else {})}
        page = client.get("/api/events", params=params, headers=tenant.h("admin")).json()["data"]
        stored += page
        if len(page) < 200:
            break
        before = page[-1]["id"]
    vendor_ids = Counter(e["vendor_event_id"] for e in stored)
    assert set(vendor_ids) == set(new) and set(vendor_ids.values()) == {1}
    assert {e["id"] for e in stored} == acked_ids
