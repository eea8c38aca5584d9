"""CSRF protection for console forms.

Signed-in forms carry a synchronizer token bound to the session: ``nonce.mac`` where mac is
HMAC-SHA256 over the nonce, keyed with the session's own csrf_secret (a fresh nonce per
render, so the token in a page never repeats and leaks nothing about the secret). The
sign-in form, which has no session yet, uses the same construction keyed with a random
pre-session cookie (double submit). Every state-changing request also has its Origin (or
Referer) checked against the hub's own origin when the browser sends one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

FIELD = "csrf_token"


def _mac(secret: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), f"csrf:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_secret() -> str:
    """A fresh 256-bit secret (hex) for a session or a sign-in form."""
    return secrets.token_hex(32)


def form_token(secret: str) -> str:
    """A token to embed in one form of the session keyed by `secret`."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_mac(secret, nonce)}"


def token_ok(secret: str | None, token: object) -> bool:
    """Whether a submitted token was issued for `secret` (constant-time comparison)."""
    if not secret or not isinstance(token, str) or token.count(".") != 1 or len(token) > 200:
        return False
    nonce, mac = token.split(".")
    if not nonce or not mac:
        return False
    return hmac.compare_digest(mac.encode(), _mac(secret, nonce).encode())


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_ok(request: Request) -> bool:
    """False when the browser says the request came from another origin.

    Accepted origins: the one the request was addressed to (Host header) and the hub's
    configured public URL. A request with neither Origin nor Referer (old browsers, privacy
    settings) is left to the token check alone.
    """
    claimed = request.headers.get("origin")
    if claimed is None or claimed == "null":
        ref = request.headers.get("referer")
        if not ref:
            return claimed is None  # "null" (sandboxed or opaque origin) is refused
        claimed = _origin_of(ref) or ""
    claimed = claimed.lower().rstrip("/")
    allowed = {f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
    settings = getattr(request.app.state, "settings", None)
    public = getattr(settings, "public_url", None)
    if public:
        o = _origin_of(public)
        if o:
            allowed.add(o)
    return claimed in allowed
