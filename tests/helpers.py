"""Small test helpers: canary secrets and credential sets that pass the registry's checks."""

from __future__ import annotations

import secrets


def canary(prefix: str = "cnry") -> str:
    """A unique secret-looking value to plant and search for."""
    return f"{prefix}{secrets.token_hex(16)}"


def twilio_credentials(auth_token: str | None = None) -> dict[str, str]:
    """Valid-looking Twilio credentials (account SID is public, auth token secret)."""
    return {"account_sid": "AC" + secrets.token_hex(16), "auth_token": auth_token or canary()}


def stripe_credentials(secret_key: str | None = None) -> dict[str, str]:
    """A Stripe test secret key."""
    return {"secret_key": secret_key or "sk_test_" + secrets.token_hex(16)}
