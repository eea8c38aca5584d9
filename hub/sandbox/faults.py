"""Injected vendor failures: which requests fail, and the error body each vendor would send.

A :class:`Fault` makes the next ``times`` matching requests to a vendor answer ``status``
(auth failure 401, rate limit 429, outage 503, ...) with :func:`vendor_error_body` and an
optional ``Retry-After``, without reaching Prism; with ``delay_s`` they wait first, and
status 0 then lets them through to Prism (a slow vendor rather than a failing one).
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any


@dataclass
class Fault:
    """The next ``times`` matching requests to ``vendor`` answer ``status`` without Prism."""

    vendor: str
    status: int
    times: int = 1
    retry_after: int | None = None
    body: object = None  # overrides the vendor-shaped body: bytes as is, else sent as JSON
    method: str | None = None
    path_prefix: str | None = None
    # Seconds to wait before answering; with status 0 the request then goes on to Prism
    # (a slow vendor rather than a failing one).
    delay_s: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and vendor-relative path is one to fail."""
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path_prefix and not path.startswith(self.path_prefix))

    def to_dict(self) -> dict[str, Any]:
        """The fault as JSON."""
        return {
            "vendor": self.vendor,
            "status": self.status,
            "times": self.times,
            "retry_after": self.retry_after,
            "method": self.method,
            "path_prefix": self.path_prefix,
            "body": self.body,
            "delay_s": self.delay_s,
        }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def vendor_error_body(vendor: str, status: int) -> dict[str, Any]:
    """An error body in the shape the vendor's real API uses for this status."""
    phrase = _phrase(status)
    if vendor in ("google_calendar", "google_business_profile"):
        reason = {401: "authError", 403: "forbidden", 429: "rateLimitExceeded"}.get(
            status, "backendError"
        )
        message = "Request had invalid authentication credentials." if status == 401 else phrase
        return {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    if vendor == "msgraph_calendar":
        graph = {401: "InvalidAuthenticationToken", 403: "ErrorAccessDenied"}.get(status, phrase)
        message = "Access token has expired or is not yet valid." if status == 401 else phrase
        return {"error": {"code": graph, "message": message}}
    if vendor == "twilio":
        code, message = {
            401: (20003, "Authenticate"),
            403: (20403, "Forbidden"),
            404: (20404, "The requested resource was not found"),
            429: (20429, "Too Many Requests"),
            503: (20503, "Service Unavailable"),
        }.get(status, (20500, "Internal Server Error") if status >= 500 else (21000, phrase))
        return {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    if vendor == "sendgrid":
        message = {
            401: "The provided authorization grant is invalid, expired, or revoked",
            403: "access forbidden",
            429: "too many requests",
        }.get(status, "internal server error" if status >= 500 else phrase.lower())
        return {"errors": [{"field": None, "message": message, "help": None}]}
    if vendor == "mailgun":
        message = {
            401: "Invalid private key",
            403: "Domain not allowed",
            429: "Too many requests",
        }.get(status, "Internal server error" if status >= 500 else phrase)
        return {"message": message}
    if vendor == "stripe":
        if status == 401:
            err = {
                "type": "invalid_request_error",
                "message": "Invalid API Key provided: sk_test_********************",
            }
        elif status == 429:
            err = {
                "type": "rate_limit_error",
                "code": "rate_limit",
                "message": "Too many requests hit the API too quickly.",
            }
        elif status == 402:
            err = {
                "type": "card_error",
                "code": "card_declined",
                "message": "Your card was declined.",
            }
        elif status >= 500:
            err = {"type": "api_error", "message": "Something went wrong on Stripe's end."}
        else:
            err = {"type": "invalid_request_error", "message": phrase}
        return {"error": err}
    if vendor == "square":
        category, error_code = {
            401: ("AUTHENTICATION_ERROR", "UNAUTHORIZED"),
            403: ("AUTHENTICATION_ERROR", "FORBIDDEN"),
            404: ("INVALID_REQUEST_ERROR", "NOT_FOUND"),
            429: ("RATE_LIMIT_ERROR", "RATE_LIMITED"),
            503: ("API_ERROR", "SERVICE_UNAVAILABLE"),
        }.get(
            status,
            ("API_ERROR", "INTERNAL_SERVER_ERROR")
            if status >= 500
            else ("INVALID_REQUEST_ERROR", "BAD_REQUEST"),
        )
        return {"errors": [{"category": category, "code": error_code, "detail": phrase}]}
    if vendor == "docusign":
        # eSignature REST errors are {errorCode, message}; a dead token gets this one.
        error_code, message = {
            401: (
                "AUTHORIZATION_INVALID_TOKEN",
                "The access token provided is expired, revoked or malformed.",
            ),
            403: ("USER_LACKS_PERMISSIONS", "This user lacks sufficient permissions."),
            429: (
                "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
                "The maximum number of hourly API invocations has been exceeded.",
            ),
        }.get(status, ("UNSPECIFIED_ERROR", phrase))
        return {"errorCode": error_code, "message": message}
    if vendor == "google_maps_geocode":
        # The real Geocoding API usually answers 200 with one of these statuses; use a
        # fault with status 200 and this body to get that exact behaviour.
        st, message = {
            401: ("REQUEST_DENIED", "The provided API key is invalid."),
            403: ("REQUEST_DENIED", "This API project is not authorized to use this API."),
            429: ("OVER_QUERY_LIMIT", "You have exceeded your rate-limit for this API."),
        }.get(
            status,
            ("UNKNOWN_ERROR", "Server error") if status >= 500 else ("INVALID_REQUEST", phrase),
        )
        return {"error_message": message, "results": [], "status": st}
    return {"error": {"status": status, "message": phrase}}
