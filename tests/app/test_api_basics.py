"""Health, readiness, OpenAPI and the error shape."""

from __future__ import annotations


def test_health_and_ready(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_openapi_lists_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in (
        "/api/integrations",
        "/api/connections",
        "/api/connections/{connection_id}",
        "/api/audit",
        "/api/capabilities",
    ):
        assert p in paths
    assert client.get("/docs").status_code == 200


def test_errors_have_one_shape(client, tenant):
    r = client.get("/api/nowhere", headers=tenant.h())
    assert r.status_code == 404 and r.json()["error"]["kind"] == "not_found"
    r = client.put("/api/connections", headers=tenant.h())
    assert r.status_code == 405 and r.json()["error"]["kind"] == "method_not_allowed"
    r = client.post(
        "/api/connections",
        headers={**tenant.h(), "content-type": "application/json"},
        content=b"{not json",
    )
    assert r.status_code == 422 and r.json()["error"]["kind"] == "invalid_request"
    r = client.get("/api/audit", params={"limit": 0}, headers=tenant.h())
    assert r.status_code == 422 and r.json()["error"]["field"] == "limit"
    assert "x-request-id" in r.headers


def test_checkout_return_pages_are_public_and_plain(client):
    done = client.get("/payments/complete", params={"session_id": "cs_test_1"})
    assert done.status_code == 200 and "Your payment was submitted" in done.text
    assert "Back to the console" not in done.text
    gone = client.get("/payments/canceled")
    assert gone.status_code == 200 and "No payment was taken" in gone.text
