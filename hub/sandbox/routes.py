"""Sandbox answers Prism cannot give from the trimmed specs.

* **Local routes**: vendor operations the shared specs lack, written from the vendor's own
  documentation and validated here by hand. ``POST /square/v2/refunds`` (Square RefundPayment,
  https://developer.squareup.com/reference/square/refunds-api/refund-payment): JSON body,
  ``Authorization: Bearer``; required ``idempotency_key`` (1-45 characters), ``amount_money``
  (``{amount: positive integer, currency: ISO 4217}``) and ``payment_id``; optional
  ``reason`` (at most 192 characters). A valid request answers 200 ``{"refund": {...}}`` with
  status ``PENDING``; an invalid one answers 400 in Square's error shape, with the same
  ``sl-violations`` header Prism would send.
* **Response extras**: SendGrid's ``202 Accepted`` for ``POST /v3/mail/send`` carries an
  ``X-Message-Id`` header in the real API; the spec does not declare it, so Prism omits it
  and the proxy adds one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class LocalAnswer:
    """What a local route answers (and what the sandbox records as violations)."""

    status: int
    body: dict[str, Any]
    violations: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        """The body as JSON bytes."""
        return json.dumps(self.body).encode()

    def response_headers(self) -> dict[str, str]:
        """Content type, the answer's own headers and ``sl-violations`` when there are any."""
        out = {"content-type": "application/json", **self.headers}
        if self.violations:
            out["sl-violations"] = json.dumps(self.violations, separators=(",", ":"))
        return out


Handler = Callable[[dict[str, str], bytes], LocalAnswer]


def _square_error(category: str, code: str, detail: str, fld: str | None = None) -> dict[str, str]:
    err = {"category": category, "code": code, "detail": detail}
    if fld:
        err["field"] = fld
    return err


def square_refund(headers: dict[str, str], body: bytes) -> LocalAnswer:
    """Square RefundPayment (POST /v2/refunds), checked against Square's documented fields."""
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or not auth[7:].strip():
        return LocalAnswer(
            401,
            {
                "errors": [
                    _square_error(
                        "AUTHENTICATION_ERROR",
                        "UNAUTHORIZED",
                        "This request could not be authorized.",
                    )
                ]
            },
            [
                {
                    "location": ["request", "header", "authorization"],
                    "severity": "Error",
                    "code": "security",
                    "message": "Bearer token required",
                }
            ],
        )
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return LocalAnswer(
            415,
            {
                "errors": [
                    _square_error(
                        "INVALID_REQUEST_ERROR",
                        "UNSUPPORTED_MEDIA_TYPE",
                        f"Content-Type {ctype or '(none)'} is not supported: send JSON.",
                    )
                ]
            },
            [
                {
                    "location": ["request", "header", "content-type"],
                    "severity": "Error",
                    "code": "content-type",
                    "message": "Supported content types: application/json",
                }
            ],
        )
    parsed: object
    try:
        parsed = json.loads(body or b"null")
    except ValueError:
        parsed = None
    problems: list[tuple[str, str, str]] = []  # (field, code, message)
    doc: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    if not isinstance(parsed, dict):
        problems.append(("body", "INVALID_BODY", "The request body must be a JSON object."))
    key = doc.get("idempotency_key")
    if key is None:
        problems.append(("idempotency_key", "MISSING_REQUIRED_PARAMETER", "is required"))
    elif not isinstance(key, str) or not 1 <= len(key) <= 45:
        problems.append(
            ("idempotency_key", "INVALID_VALUE", "must be a string of 1 to 45 characters")
        )
    money: Any = doc.get("amount_money")  # JSON, checked below
    if money is None:
        problems.append(("amount_money", "MISSING_REQUIRED_PARAMETER", "is required"))
    elif not isinstance(money, dict):
        problems.append(("amount_money", "INVALID_VALUE", "must be an object"))
    else:
        amount = money.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
            problems.append(("amount_money.amount", "INVALID_VALUE", "must be a positive integer"))
        cur = money.get("currency")
        if not isinstance(cur, str) or len(cur) != 3 or not cur.isupper():
            problems.append(
                ("amount_money.currency", "INVALID_VALUE", "must be an ISO 4217 code (USD)")
            )
    pid = doc.get("payment_id")
    if pid is None:
        problems.append(("payment_id", "MISSING_REQUIRED_PARAMETER", "is required"))
    elif not isinstance(pid, str) or not 1 <= len(pid) <= 192:
        problems.append(("payment_id", "INVALID_VALUE", "must be a string of 1 to 192 characters"))
    reason = doc.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 192):
        problems.append(("reason", "VALUE_TOO_LONG", "must be a string of at most 192 characters"))
    if problems:
        return LocalAnswer(
            400,
            {
                "errors": [
                    _square_error("INVALID_REQUEST_ERROR", code, f"`{f}` {msg}.", f)
                    for f, code, msg in problems
                ]
            },
            [
                {
                    "location": ["body", *f.split(".")],
                    "severity": "Error",
                    "code": code.lower(),
                    "message": f"Request body property {f} {msg}",
                }
                for f, code, msg in problems
            ],
        )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return LocalAnswer(
        200,
        {
            "refund": {
                "id": f"{pid}_{secrets.token_hex(12)}",
                "status": "PENDING",
                "amount_money": {"amount": money["amount"], "currency": money["currency"]},
                "payment_id": pid,
                "reason": reason,
                "location_id": "L88917AVBK2S5",
                "created_at": now,
                "updated_at": now,
            }
        },
    )


#: (vendor, method, path) -> handler, for operations the trimmed specs lack.
LOCAL_ROUTES: dict[tuple[str, str, str], Handler] = {
    ("square", "POST", "/v2/refunds"): square_refund,
}


def local_route(vendor: str, method: str, path: str) -> Handler | None:
    """The local handler for this request, if the sandbox serves it itself."""
    return LOCAL_ROUTES.get((vendor, method.upper(), path.rstrip("/") or "/"))


def response_extras(vendor: str, method: str, path: str, status: int) -> dict[str, str]:
    """Headers the real vendor sends that Prism cannot (added to Prism's answer)."""
    sendgrid_send = vendor == "sendgrid" and method.upper() == "POST" and path == "/v3/mail/send"
    if sendgrid_send and status == 202:
        return {"x-message-id": secrets.token_urlsafe(16)}
    return {}
