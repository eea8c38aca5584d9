"""Vendor signature schemes: each checks one request's raw bytes against the endpoint's key.

A scheme takes the request as received (`Inbound`), the key (or keys) and the current time,
and returns what the hub needs to store the event (`Verified`: its dedupe key and type), or
raises `Refused` naming what failed. Comparisons are constant-time (hmac.compare_digest);
nothing here is stored or logged. The facts behind each scheme: ../shared/SECURITY.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

#: Vendors' own replay windows (Stripe's library default, Slack, Standard Webhooks: 300 s).
TOLERANCE_S = 300
#: Dropbox Sign's fixed acknowledgement text (its retries continue without it).
DROPBOX_SIGN_ACK = "Hello API Event Received"


@dataclass(frozen=True)
class Inbound:
    """One request as the vendor sent it: raw body, lower-case headers, candidate URLs."""

    method: str
    body: bytes
    headers: Mapping[str, str]
    # The URLs the vendor may have seen (behind a proxy they differ from ours), best first:
    # worked out on first use, since only the schemes that sign the URL need them.
    find_urls: Callable[[], tuple[str, ...]]
    query: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def urls(self) -> tuple[str, ...]:
        """The candidate URLs, best first."""
        return self.find_urls()

    @property
    def content_type(self) -> str:
        """The media type without parameters."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Verified:
    """A request that passed: the vendor's event id (the dedupe key) and its type."""

    dedupe_key: str
    event_type: str
    # A reply the vendor requires instead of the usual acknowledgement (Slack's challenge).
    reply: str | None = None
    # Set when the request is a handshake only: answered, never stored.
    handshake: bool = False


class Refused(Exception):
    """The request did not verify; `reason` is a short code for counting and the audit log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


Keys = Mapping[str, str]
Scheme = Callable[[Inbound, Keys, float], Verified]


def _eq(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time equality of two strings or byte strings."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


def _hmac(key: str | bytes, msg: bytes, algo: str = "sha256") -> bytes:
    if isinstance(key, str):
        key = key.encode()
    return hmac.new(key, msg, algo).digest()


def _key(keys: Keys, name: str = "signing_secret") -> str:
    value = keys.get(name)
    if not value:
        raise Refused(
            "no_secret",
            "This endpoint has no signing secret yet: set it on the connection "
            "(PUT /api/connections/{id}/webhook) and send again.",
        )
    return value


def _header(req: Inbound, name: str) -> str:
    value = req.headers.get(name.lower())
    if not value:
        raise Refused("missing_signature", f"The {name} header is missing.")
    return value


def _timestamp(value: str, now: float, what: str) -> int:
    try:
        ts = int(value)
    except ValueError:
        raise Refused("bad_timestamp", f"The {what} is not a Unix time.") from None
    if abs(now - ts) > TOLERANCE_S:
        raise Refused(
            "stale_timestamp",
            f"The {what} is more than {TOLERANCE_S} s from now (a replay, or a clock to fix).",
        )
    return ts


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise Refused("bad_body", "The body is not JSON.") from None


def _field(doc: Any, *path: str) -> str:
    for p in path:
        if not isinstance(doc, dict):
            return ""
        doc = doc.get(p)
    return doc if isinstance(doc, str) else "" if doc is None else str(doc)


def _digest_key(body: bytes) -> str:
    """A dedupe key for vendors that send no event id: the body's hash."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def url_variants(urls: tuple[str, ...]) -> list[str]:
    """Each URL as given, with its default port added, and with it removed (Twilio, Square)."""
    out: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        default = 443 if parts.scheme == "https" else 80
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        bare = urlunsplit(parts._replace(netloc=host))
        with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default}"))
        for candidate in (url, bare if parts.port in (None, default) else url, with_port):
            if candidate not in out:
                out.append(candidate)
    return out


# -- Stripe -------------------------------------------------------------------------------


def stripe_v1(req: Inbound, keys: Keys, now: float) -> Verified:
    """`Stripe-Signature: t=..,v1=..[,v1=..]` over `t.body`, HMAC-SHA256 hex; any v1 may match."""
    secret = _key(keys)
    header = _header(req, "Stripe-Signature")
    ts = ""
    sigs: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            ts = value
        elif name == "v1":
            sigs.append(value)
    if not ts or not sigs:
        raise Refused("malformed_signature", "Stripe-Signature needs t= and at least one v1=.")
    _timestamp(ts, now, "Stripe-Signature timestamp")
    expected = _hmac(secret, ts.encode() + b"." + req.body).hex()
    if not any(_eq(expected, s) for s in sigs):
        raise Refused("bad_signature", "No v1 signature matches this endpoint's signing secret.")
    doc = _json(req.body)
    return Verified(_field(doc, "id") or _digest_key(req.body), _field(doc, "type"))


# -- Twilio -------------------------------------------------------------------------------


def _twilio_expected(key: str, url: str, params: list[tuple[str, str]], algo: str) -> str:
    s = url
    names = sorted({k for k, _ in params})
    for name in names:
        for value in sorted({v for k, v in params if k == name}):
            s += name + value
    return base64.b64encode(_hmac(key, s.encode(), algo)).decode()


def twilio_hmac_sha1(req: Inbound, keys: Keys, now: float) -> Verified:
    """`X-Twilio-Signature`: the full URL then sorted form params, HMAC-SHA1 (or SHA256), base64.

    JSON bodies are signed through the URL's `bodySHA256` parameter. Tried against every URL
    the vendor may have used, with and without the default port.
    """
    secret = _key(keys)
    sig = _header(req, "X-Twilio-Signature")
    algo = "sha1"
    for part in req.headers.get("x-twilio-webhooks-signature-settings", "").split(","):
        name, _, value = part.partition("=")
        if name.strip() == "algorithm" and value.strip().upper() == "HMAC_SHA256":
            algo = "sha256"
    form = req.content_type == "application/x-www-form-urlencoded"
    params = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True) if form else []
    if not form:
        claimed = req.query.get("bodySHA256", "")
        if not claimed or not _eq(hashlib.sha256(req.body).hexdigest(), claimed):
            raise Refused("bad_signature", "The body does not match its bodySHA256 parameter.")
    if not any(
        _eq(_twilio_expected(secret, url, params, algo), sig) for url in url_variants(req.urls)
    ):
        raise Refused(
            "bad_signature",
            "X-Twilio-Signature does not match for this URL and auth token (check that the "
            "URL configured at Twilio is the webhook_url shown by the hub).",
        )
    data = dict(params) if form else _json(req.body)
    status = (
        _field(data, "MessageStatus") or _field(data, "SmsStatus") or _field(data, "CallStatus")
    )
    sid = _field(data, "MessageSid") or _field(data, "SmsSid") or _field(data, "CallSid")
    token = req.headers.get("i-twilio-idempotency-token", "")
    key = token or (f"{sid}:{status}" if sid else _digest_key(req.body))
    kind = "sms.received" if status == "received" else f"status.{status}" if status else "event"
    return Verified(key[:200], kind)


# -- Slack --------------------------------------------------------------------------------


def slack_v0(req: Inbound, keys: Keys, now: float) -> Verified:
    """`X-Slack-Signature: v0=hex` over `v0:timestamp:body`; 300 s window; answers challenges."""
    secret = _key(keys)
    ts = _header(req, "X-Slack-Request-Timestamp")
    _timestamp(ts, now, "X-Slack-Request-Timestamp")
    sig = _header(req, "X-Slack-Signature")
    expected = "v0=" + _hmac(secret, b"v0:" + ts.encode() + b":" + req.body).hex()
    if not _eq(expected, sig):
        raise Refused("bad_signature", "X-Slack-Signature does not match the signing secret.")
    if req.content_type == "application/json":
        doc = _json(req.body)
        if _field(doc, "type") == "url_verification":
            return Verified("", "url_verification", reply=_field(doc, "challenge"), handshake=True)
        kind = _field(doc, "event", "type") or _field(doc, "type")
        return Verified(_field(doc, "event_id") or _digest_key(req.body), kind)
    form = dict(parse_qsl(req.body.decode("utf-8", "replace")))
    return Verified(_digest_key(req.body), form.get("command") or "interaction")


# -- Standard Webhooks (Svix and others) --------------------------------------------------


def _standard_secret(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw + "==")
    except (binascii.Error, ValueError):
        raise Refused("no_secret", "The signing secret is not whsec_ + base64.") from None


def standard_webhooks(req: Inbound, keys: Keys, now: float) -> Verified:
    """`webhook-signature: v1,b64 [v1,b64 ...]` over `id.ts.body`: HMAC (whsec_) or Ed25519.

    The secret is `whsec_<base64>` or the bare base64 (both forms work); a `whpk_<base64>`
    public key checks `v1a` (Ed25519) signatures. Every listed signature is tried.
    """
    secret = _key(keys)
    msg_id = _header(req, "webhook-id")
    ts = _header(req, "webhook-timestamp")
    _timestamp(ts, now, "webhook-timestamp")
    listed = _header(req, "webhook-signature").split(" ")
    signed = f"{msg_id}.{ts}.".encode() + req.body
    ok = False
    if secret.startswith("whpk_"):
        pub = ed25519.Ed25519PublicKey.from_public_bytes(_standard_secret(secret[5:]))
        for item in listed:
            version, _, value = item.partition(",")
            if version != "v1a":
                continue
            try:
                pub.verify(base64.b64decode(value), signed)
                ok = True
            except (InvalidSignature, binascii.Error, ValueError):
                continue
    else:
        expected = base64.b64encode(_hmac(_standard_secret(secret), signed)).decode()
        for item in listed:
            version, _, value = item.partition(",")
            # No early exit: every listed signature is compared.
            ok = (version == "v1" and _eq(expected, value)) or ok
    if not ok:
        raise Refused("bad_signature", "None of the listed webhook signatures matches.")
    doc = _json(req.body) if req.body.strip() else {}
    return Verified(msg_id[:200], _field(doc, "type"))


# -- Meta ---------------------------------------------------------------------------------


def meta_sha256(req: Inbound, keys: Keys, now: float) -> Verified:
    """`X-Hub-Signature-256: sha256=hex` of the raw body with the app secret."""
    secret = _key(keys)
    sig = _header(req, "X-Hub-Signature-256")
    expected = "sha256=" + _hmac(secret, req.body).hex()
    if not _eq(expected, sig):
        raise Refused("bad_signature", "X-Hub-Signature-256 does not match the app secret.")
    doc = _json(req.body)
    return Verified(_digest_key(req.body), _field(doc, "object"))


def meta_challenge(query: Mapping[str, str], keys: Keys) -> str:
    """Meta's GET subscription check: echo hub.challenge when the verify token matches."""
    token = keys.get("verify_token")
    if query.get("hub.mode") != "subscribe" or not token:
        raise Refused("bad_challenge", "Not a subscription check, or no verify token is set.")
    if not _eq(query.get("hub.verify_token", ""), token):
        raise Refused("bad_challenge", "hub.verify_token does not match this endpoint's token.")
    return query.get("hub.challenge", "")


# -- Square -------------------------------------------------------------------------------


def square_hmac_sha256(req: Inbound, keys: Keys, now: float) -> Verified:
    """`x-square-hmacsha256-signature`: base64 HMAC-SHA256 of notification URL + raw body."""
    secret = _key(keys)
    sig = _header(req, "x-square-hmacsha256-signature")
    if not any(
        _eq(base64.b64encode(_hmac(secret, url.encode() + req.body)).decode(), sig)
        for url in url_variants(req.urls)
    ):
        raise Refused("bad_signature", "The Square signature does not match for this URL.")
    doc = _json(req.body)
    return Verified(_field(doc, "event_id") or _digest_key(req.body), _field(doc, "type"))


# -- DocuSign Connect ---------------------------------------------------------------------


def docusign_connect_hmac_sha256(req: Inbound, keys: Keys, now: float) -> Verified:
    """`X-DocuSign-Signature-1..N`: base64 HMAC-SHA256 of the body; any listed key may match."""
    secret = _key(keys)
    listed = [
        v for k, v in req.headers.items() if k.startswith("x-docusign-signature-") and v.strip()
    ]
    if not listed:
        raise Refused("missing_signature", "No X-DocuSign-Signature-N header.")
    expected = base64.b64encode(_hmac(secret, req.body)).decode()
    ok = False
    for sig in listed:
        ok = _eq(expected, sig.strip()) or ok
    if not ok:
        raise Refused("bad_signature", "No X-DocuSign-Signature matches the Connect HMAC key.")
    doc = _json(req.body)
    envelope = _field(doc, "data", "envelopeId")
    kind = _field(doc, "event")
    when = _field(doc, "generatedDateTime")
    key = f"{envelope}:{kind}:{when}" if envelope else _digest_key(req.body)
    return Verified(key[:200], kind)


# -- Dropbox Sign -------------------------------------------------------------------------


def dropbox_sign_payload(req: Inbound) -> Any:
    """The event document: a `json` form field (multipart or urlencoded) or a JSON body."""
    if req.content_type == "multipart/form-data":
        return _json(_multipart_field(req, "json"))
    if req.content_type == "application/x-www-form-urlencoded":
        return _json(dict(parse_qsl(req.body.decode("utf-8", "replace"))).get("json", "").encode())
    return _json(req.body)


def form_fields(body: bytes, content_type: str) -> dict[str, Any]:
    """A multipart/form-data body's text fields, as a dict (JSON fields parsed)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    out: dict[str, Any] = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            text = payload.decode("utf-8", "replace")
            try:
                out[name] = json.loads(text) if name == "json" else text
            except ValueError:
                out[name] = text
    return out


def _multipart_field(req: Inbound, name: str) -> bytes:
    head = f"Content-Type: {req.headers.get('content-type', '')}\r\n\r\n".encode()
    msg = BytesParser(policy=HTTP).parsebytes(head + req.body)
    if msg.is_multipart():
        for part in msg.iter_parts():
            if part.get_param("name", header="content-disposition") == name:
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else b""
    raise Refused("bad_body", f"The form has no {name!r} field.")


def dropbox_sign_event_hash(req: Inbound, keys: Keys, now: float) -> Verified:
    """`event.event_hash` = hex HMAC-SHA256(api key, event_time + event_type), in the body.

    Only the time and type are signed, not the object: its handler re-reads the signature
    request from Dropbox Sign before acting (SECURITY 14).
    """
    secret = _key(keys)
    doc = dropbox_sign_payload(req)
    event_time = _field(doc, "event", "event_time")
    event_type = _field(doc, "event", "event_type")
    claimed = _field(doc, "event", "event_hash")
    if not (event_time and event_type and claimed):
        raise Refused("missing_signature", "The event has no event_time, event_type or event_hash.")
    expected = _hmac(secret, (event_time + event_type).encode()).hex()
    if not _eq(expected, claimed):
        raise Refused("bad_signature", "event_hash does not match this endpoint's API key.")
    request_id = _field(doc, "signature_request", "signature_request_id")
    key = f"{event_time}:{event_type}:{request_id}"
    if event_type == "callback_test":
        return Verified(key, event_type, reply=DROPBOX_SIGN_ACK, handshake=True)
    return Verified(key[:200], event_type, reply=DROPBOX_SIGN_ACK)


# -- SendGrid -----------------------------------------------------------------------------


def _sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    body = text.strip()
    if "BEGIN PUBLIC KEY" not in body:
        body = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----"
    try:
        key = serialization.load_pem_public_key(body.encode())
    except ValueError:
        raise Refused("no_secret", "The SendGrid verification key is not a public key.") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise Refused("no_secret", "The SendGrid verification key is not an ECDSA key.")
    return key


def sendgrid_ecdsa(req: Inbound, keys: Keys, now: float) -> Verified:
    """ECDSA P-256 over `timestamp + body`, base64 DER, with the account's public key."""
    text = _key(keys)
    sig = _header(req, "X-Twilio-Email-Event-Webhook-Signature")
    ts = _header(req, "X-Twilio-Email-Event-Webhook-Timestamp")
    _timestamp(ts, now, "X-Twilio-Email-Event-Webhook-Timestamp")
    try:
        _sendgrid_key(text).verify(
            base64.b64decode(sig), ts.encode() + req.body, ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise Refused("bad_signature", "The SendGrid signature does not verify.") from None
    doc = _json(req.body)
    ids = sorted(_field(e, "sg_event_id") for e in doc) if isinstance(doc, list) else []
    key = "sg:" + hashlib.sha256("|".join(ids).encode()).hexdigest() if all(ids) and ids else ""
    first = doc[0] if isinstance(doc, list) and doc else {}
    return Verified(key or _digest_key(req.body), _field(first, "event"))


# -- Mailgun, Intuit, Xero, HubSpot (registry-declared; simple body HMACs) ---------------


def mailgun_hmac_sha256(req: Inbound, keys: Keys, now: float) -> Verified:
    """`signature: {timestamp, token, signature}` in the JSON body: hex HMAC of ts + token."""
    secret = _key(keys)
    doc = _json(req.body)
    ts, token = _field(doc, "signature", "timestamp"), _field(doc, "signature", "token")
    claimed = _field(doc, "signature", "signature")
    if not (ts and token and claimed):
        raise Refused("missing_signature", "The body has no signature object.")
    _timestamp(ts, now, "signature timestamp")
    if not _eq(_hmac(secret, (ts + token).encode()).hex(), claimed):
        raise Refused("bad_signature", "The Mailgun signature does not match the signing key.")
    return Verified(f"mg:{token}"[:200], _field(doc, "event-data", "event"))


def _body_b64(header: str) -> Scheme:
    def scheme(req: Inbound, keys: Keys, now: float) -> Verified:
        sig = _header(req, header)
        if not _eq(base64.b64encode(_hmac(_key(keys), req.body)).decode(), sig.strip()):
            raise Refused("bad_signature", f"{header} does not match the webhook key.")
        return Verified(_digest_key(req.body), "event")

    scheme.__doc__ = f"`{header}`: base64 HMAC-SHA256 of the raw body."
    return scheme


def hubspot_v3(req: Inbound, keys: Keys, now: float) -> Verified:
    """`X-HubSpot-Signature-v3`: base64 HMAC-SHA256 of method + URL + body + ms timestamp."""
    secret = _key(keys)
    sig = _header(req, "X-HubSpot-Signature-v3")
    ts = _header(req, "X-HubSpot-Request-Timestamp")
    try:
        _timestamp(str(int(ts) // 1000), now, "X-HubSpot-Request-Timestamp")
    except ValueError:
        raise Refused("bad_timestamp", "X-HubSpot-Request-Timestamp is not a time.") from None
    ok = False
    for url in url_variants(req.urls):
        msg = req.method.encode() + url.encode() + req.body + ts.encode()
        ok = _eq(base64.b64encode(_hmac(secret, msg)).decode(), sig) or ok
    if not ok:
        raise Refused("bad_signature", "X-HubSpot-Signature-v3 does not match.")
    return Verified(_digest_key(req.body), "event")


#: Scheme name (the registry's `webhooks.signature`) -> verifier.
SCHEMES: dict[str, Scheme] = {
    "stripe_v1": stripe_v1,
    "twilio_hmac_sha1": twilio_hmac_sha1,
    "slack_v0": slack_v0,
    "standard_webhooks": standard_webhooks,
    "meta_sha256": meta_sha256,
    "square_hmac_sha256": square_hmac_sha256,
    "docusign_connect_hmac_sha256": docusign_connect_hmac_sha256,
    "dropbox_sign_event_hash": dropbox_sign_event_hash,
    "sendgrid_ecdsa": sendgrid_ecdsa,
    "mailgun_hmac_sha256": mailgun_hmac_sha256,
    "intuit_hmac_sha256": _body_b64("intuit-signature"),
    "xero_hmac_sha256": _body_b64("x-xero-signature"),
    "hubspot_v3": hubspot_v3,
}
