"""post_to_social on Google Business Profile (issue 10, item 7): connected through OAuth on
the sandbox's authorization server, posted through real n8n to Prism serving Google's own
spec, and only after a human approved it (a public post stays requires_authorization)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from hub.sandbox.authserver import AuthServer
from tests.connections.oauth_kit import register_apps, start_auth_server
from tests.e2e.test_calendars import connect

pytestmark = pytest.mark.n8n

GBP = "google_business_profile"
POST = {
    "platform": GBP,
    "text": "Spring gutter cleaning is open for booking: 10% off until April 30.",
    "link_url": "https://example.com/book",
    "media_urls": ["https://example.com/gutters.jpg"],
}


@pytest.fixture(scope="module")
def google(live_hub) -> Iterator[AuthServer]:  # type: ignore[no-untyped-def]
    """The authorization server standing in for Google's, the vendor API needing its tokens."""
    server = start_auth_server([f"{live_hub.url}/oauth/callback"])
    register_apps(live_hub.runtime, server)
    live_hub.sandbox.require_tokens(GBP, server.token_check(GBP))
    yield server
    live_hub.sandbox.state.token_checks.pop(live_hub.sandbox.vendor(GBP), None)
    server.stop()


def test_a_public_post_waits_for_a_human_then_goes_to_the_listing(live_hub, google):
    tenant = live_hub.tenant("gbp")
    conn = connect(live_hub, google, tenant, GBP)
    r = httpx.patch(
        f"{live_hub.url}/api/connections/{conn['id']}",
        json={"config": {"account_id": "112233445566778899001", "location_id": "987654321"}},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200, r.text
    live_hub.sandbox.clear()
    queued = live_hub.call(tenant, "post_to_social", POST, reasoning="announce the offer")
    body = queued.json()
    assert body["status"] == "authorization_required", body
    assert not live_hub.sandbox.requests(GBP), "posted before a human approved"
    decided = httpx.post(
        f"{live_hub.url}/api/authorizations/{body['queue_id']}",
        json={"decision": "authorized"},
        headers=tenant.h("admin"),
        timeout=60,
    )
    assert decided.status_code == 200, decided.text
    outcome = decided.json()["outcome"]
    assert outcome["status"] == "succeeded", outcome
    assert outcome["data"]["platform"] == GBP and outcome["data"]["post_id"]
    assert outcome["data"]["status"] in ("published", "processing")
    sent = [x for x in live_hub.sandbox.requests(GBP) if x.method == "POST"]
    assert len(sent) == 1 and sent[0].status == 200
    where = "/v4/accounts/112233445566778899001/locations/987654321/localPosts"
    assert sent[0].path.endswith(where)
    posted = json.loads(sent[0].body)
    assert posted["summary"] == POST["text"] and posted["topicType"] == "STANDARD"
    assert posted["callToAction"] == {"actionType": "LEARN_MORE", "url": POST["link_url"]}
    assert posted["media"] == [{"mediaFormat": "PHOTO", "sourceUrl": POST["media_urls"][0]}]
    assert sent[0].headers["authorization"].startswith("Bearer ")
