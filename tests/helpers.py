"""Small test helpers: canary secrets and credential sets that pass the registry's checks."""

from __future__ import annotations

import secrets


def canary(prefix: str = "") -> str:
    """A unique secret-looking value (32 hex digits after the prefix) to plant and search for."""
    return f"{prefix}{secrets.token_hex(16)}"


def twilio_credentials(auth_token: str | None = None) -> dict[str, str]:
    """Valid-looking Twilio credentials (account SID is public, auth token secret)."""
    return {
        "account_sid": "AC" + secrets.token_hex(16),
        "auth_token": auth_token or canary(),
        "default_from": "+15005550006",
    }


def stripe_credentials(secret_key: str | None = None) -> dict[str, str]:
    """A Stripe test secret key."""
    return {"secret_key": secret_key or canary("sk_test_")}


def square_credentials(access_token: str | None = None) -> dict[str, str]:
    """A Square sandbox-looking access token and location."""
    return {
        "access_token": access_token or canary("EAAA"),
        "location_id": "L" + secrets.token_hex(6),
    }


def api_routes(app):  # type: ignore[no-untyped-def]
    """Every APIRoute of the app, looking inside included routers (FastAPI nests them)."""
    from fastapi.routing import APIRoute

    stack = list(app.routes)
    while stack:
        r = stack.pop(0)
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):
            stack.extend(r.original_router.routes)
