"""Signing requests the way each vendor does, with the vendor's own SDK where one exists."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier
from standardwebhooks import Webhook
from stripe import WebhookSignature
from twilio.request_validator import RequestValidator

from tests.conftest import TenantKit
from tests.helpers import stripe_credentials, twilio_credentials


def stripe_secret() -> str:
    """A Stripe webhook signing secret."""
    return "whsec_" + secrets.token_hex(16)


def stripe_event(kind: str = "payment_intent.succeeded", **obj: Any) -> bytes:
    """A Stripe event body with a fresh id."""
    return json.dumps(
        {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "type": kind,
            "data": {"object": {"id": "pi_" + secrets.token_hex(8), **obj}},
        }
    ).encode()


def stripe_headers(body: bytes, secret: str, ts: int | None = None) -> dict[str, str]:
    """Stripe-Signature made by stripe-python's own helper."""
    header = WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=ts)
    return {"Stripe-Signature": header, "content-type": "application/json"}


def twilio_form_signature(token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature by twilio-python's RequestValidator."""
    return RequestValidator(token).compute_signature(url, params)


def twilio_json_signature(token: str, url: str) -> str:
    """A JSON body's signature: over the URL that carries bodySHA256 (no params)."""
    return RequestValidator(token).compute_signature(url, {})


def slack_headers(secret: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    """Slack's headers by slack-sdk's SignatureVerifier."""
    stamp = str(ts if ts is not None else int(time.time()))
    sig = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sig or "",
        "content-type": "application/json",
    }


def standard_headers(
    secret: str, body: bytes, msg_id: str, ts: int | None = None
) -> dict[str, str]:
    """Standard Webhooks headers by the standardwebhooks library."""
    stamp = ts if ts is not None else int(time.time())
    sig = Webhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, UTC), body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sig,
        "content-type": "application/json",
    }


def meta_headers(secret: str, body: bytes) -> dict[str, str]:
    """Meta's X-Hub-Signature-256 (no official Python SDK signs; the documented scheme)."""
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={sig}", "content-type": "application/json"}


def square_signature(key: str, url: str, body: bytes) -> str:
    """Square's signature by the documented scheme (squareup only verifies; tests check both)."""
    return base64.b64encode(hmac.new(key.encode(), url.encode() + body, "sha256").digest()).decode()


def docusign_signature(key: str, body: bytes) -> str:
    """DocuSign Connect's HMAC (no SDK helper; the documented scheme)."""
    return base64.b64encode(hmac.new(key.encode(), body, "sha256").digest()).decode()


def dropbox_sign_body(
    api_key: str, kind: str = "signature_request_all_signed", **extra: Any
) -> dict:
    """A Dropbox Sign event document with its event_hash."""
    event_time = str(int(time.time()))
    event_hash = hmac.new(api_key.encode(), (event_time + kind).encode(), "sha256").hexdigest()
    return {
        "event": {
            "event_time": event_time,
            "event_type": kind,
            "event_hash": event_hash,
            "event_metadata": {"reported_for_account_id": "acc_1"},
        },
        "signature_request": {"signature_request_id": secrets.token_hex(20), **extra},
    }


def sendgrid_keypair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """An ECDSA P-256 key pair; the public half as SendGrid shows it (base64 DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sendgrid_headers(
    private: ec.EllipticCurvePrivateKey, body: bytes, ts: int | None = None
) -> dict[str, str]:
    """SendGrid's ECDSA signature over timestamp + payload."""
    stamp = str(ts if ts is not None else int(time.time()))
    sig = private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "content-type": "application/json",
    }


def connect(client: TestClient, t: TenantKit, integration: str, creds: dict[str, str]) -> dict:
    """Connect an integration over REST; returns the connection (with its webhook_url)."""
    r = client.post(
        "/api/connections",
        json={"integration": integration, "credentials": creds},
        headers=t.h("admin"),
    )
    assert r.status_code == 201, r.text
    return r.json()


def stripe_endpoint(client: TestClient, t: TenantKit, secret: str) -> str:
    """A Stripe connection whose signing secret is `secret`; returns the webhook path."""
    conn = connect(client, t, "stripe", {**stripe_credentials(), "webhook_signing_secret": secret})
    return path_of(conn["webhook_url"])


def twilio_endpoint(client: TestClient, t: TenantKit, token: str) -> tuple[str, str]:
    """A Twilio connection with this auth token -> (webhook path, full URL)."""
    conn = connect(client, t, "twilio", twilio_credentials(token))
    return path_of(conn["webhook_url"]), conn["webhook_url"]


def scheme_endpoint(
    client: TestClient, t: TenantKit, scheme: str, secret: str, **extra: str
) -> str:
    """A connection whose endpoint uses `scheme` with `secret` (set over REST)."""
    conn = connect(client, t, "stripe", stripe_credentials())
    r = client.put(
        f"/api/connections/{conn['id']}/webhook",
        json={"scheme": scheme, "signing_secret": secret, **extra},
        headers=t.h("admin"),
    )
    assert r.status_code == 200, r.text
    return path_of(r.json()["webhook_url"])


def path_of(url: str) -> str:
    """The path of a webhook URL (the test client talks to the app directly)."""
    return "/" + url.split("/", 3)[3]


def form(params: dict[str, str]) -> bytes:
    """An urlencoded body."""
    return urlencode(params).encode()
