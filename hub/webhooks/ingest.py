"""The door: `POST|GET /webhooks/{provider}/{endpoint_id}`. Verify, store, acknowledge.

Nothing is stored before the signature verified over the raw bytes; a verified event is
committed (through the database writer, which groups concurrent commits) before the vendor
hears 2xx, and the delivery worker is woken to forward it. The work per request is a cache
lookup, an HMAC and one INSERT, so the acknowledgement is milliseconds, far inside the 3 s
vendors allow. It runs in its own lane (hub.webhooks.lane): FastAPI's request handling
would cost more than the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from hub.core.errors import HubError
from hub.db.engine import Database
from hub.webhooks import endpoints
from hub.webhooks.endpoints import EndpointKeys
from hub.webhooks.events import NewEvent
from hub.webhooks.intake import Intake
from hub.webhooks.refusals import Refusals
from hub.webhooks.schemes import SCHEMES, Inbound, Refused, Verified, meta_challenge
from vault import Vault

log = logging.getLogger("hub.webhooks")
#: A cached endpoint older than this is re-read once when a signature fails (a new secret).
RECHECK_AFTER_S = 1.0


@dataclass
class Door:
    """The door's process state: the database, vault, refusal counts, the worker's bell."""

    db: Database
    vault: Vault
    base_url: str
    refusals: Refusals = field(default_factory=Refusals)
    wake: Callable[[], None] = lambda: None
    received: int = 0
    duplicates: int = 0
    intake: Intake = field(init=False)

    def __post_init__(self) -> None:
        self.intake = Intake(self.db)


def _refusal(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(HubError(kind, message, status=status).to_dict(), status_code=status)


def candidate_urls(request: Request, base_url: str) -> tuple[str, ...]:
    """The URL the vendor requested, as far as the hub can tell, most likely first.

    Behind a proxy the vendor saw the public URL (HUB_PUBLIC_URL), or what the proxy reports
    in X-Forwarded-Proto/-Host; the URL this server saw comes last. Trusting the forwarded
    headers here is safe: they only choose which URL the signature must cover.
    """
    path = request.url.path
    query = request.url.query
    tail = path + (f"?{query}" if query else "")
    out = [base_url.rstrip("/") + tail]
    h = request.headers
    proto = h.get("x-forwarded-proto", "").split(",")[0].strip()
    host = h.get("x-forwarded-host", "").split(",")[0].strip()
    if proto or host:
        out.append(f"{proto or request.url.scheme}://{host or h.get('host', '')}{tail}")
    out.append(f"{request.url.scheme}://{h.get('host', request.url.netloc)}{tail}")
    return tuple(dict.fromkeys(out))


async def _resolve(door: Door, endpoint_id: str, fresh: bool = False) -> EndpointKeys | None:
    def load() -> EndpointKeys | None:
        with door.db.session() as s:
            return endpoints.resolve(s, door.vault, endpoint_id, fresh=fresh)

    if not fresh:
        hit, keys = endpoints.cached(endpoint_id)
        if hit:  # the common case: no session, no read
            return keys
        with door.db.session() as s:  # a miss is one short read
            return endpoints.resolve(s, door.vault, endpoint_id)
    return await run_in_threadpool(load)


async def receive(request: Request) -> Response:
    """Verify a vendor's request against the endpoint's key, store it once, acknowledge it."""
    door: Door = request.app.state.webhook_door
    provider = request.path_params["provider"]
    endpoint_id = request.path_params["endpoint_id"]
    ep = await _resolve(door, endpoint_id) if len(endpoint_id) <= 40 else None
    if ep is None or ep.provider != provider:
        door.refusals.note_unknown()
        return _refusal(404, "not_found", "No webhook endpoint at this URL.")
    scheme = SCHEMES.get(ep.scheme or "")
    if scheme is None:
        return _refusal(
            404,
            "not_available",
            f"The hub cannot verify {provider} webhooks (no signature scheme for it).",
        )
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    query = dict(parse_qsl(raw_query, keep_blank_values=True)) if raw_query else {}
    if request.method == "GET":
        return _challenge(door, ep, query)
    body = await request.body()
    inbound = Inbound(
        method=request.method,
        body=body,
        headers={k.lower(): v for k, v in request.headers.items()},
        find_urls=partial(candidate_urls, request, door.base_url),
        query=query,
    )
    try:
        verified = _verify(scheme, inbound, ep)
    except Refused as first:
        fresh = None
        if time.monotonic() - ep.loaded_at > RECHECK_AFTER_S:
            fresh = await _resolve(door, endpoint_id, fresh=True)
        try:
            if fresh is None or fresh.provider != provider:
                raise first
            ep = fresh
            verified = _verify(scheme, inbound, ep)
        except Refused as why:
            door.refusals.note(ep.id, ep.tenant_id, ep.provider, why.reason)
            return _refusal(400, "invalid_signature", why.message)
    if verified.handshake:
        return PlainTextResponse(verified.reply or "")
    return await _store(door, ep, inbound, verified)


def _verify(scheme: Callable[..., Verified], inbound: Inbound, ep: EndpointKeys) -> Verified:
    return scheme(inbound, ep.keys, time.time())


def _challenge(door: Door, ep: EndpointKeys, query: dict[str, str]) -> Response:
    if ep.scheme != "meta_sha256":
        return _refusal(
            405,
            "method_not_allowed",
            "This endpoint takes POSTs from the vendor; only Meta sends GET subscription checks.",
        )
    try:
        return PlainTextResponse(meta_challenge(query, ep.keys))
    except Refused as why:
        door.refusals.note(ep.id, ep.tenant_id, ep.provider, why.reason)
        return _refusal(403, "forbidden", why.message)


async def _store(door: Door, ep: EndpointKeys, inbound: Inbound, v: Verified) -> Response:
    ev = NewEvent(
        tenant_id=ep.tenant_id,
        endpoint_id=ep.id,
        provider=ep.provider,
        dedupe_key=v.dedupe_key,
        event_type=v.event_type,
        # The whole header: a multipart body cannot be read again without its boundary.
        content_type=inbound.headers.get("content-type", ""),
        body=inbound.body,
    )
    try:
        event_id, new = await door.intake.store(ev)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # Not stored: the vendor must retry, so it hears 503, never 2xx.
        log.error("webhook event not stored", extra={"exc_type": type(exc).__name__})
        return _refusal(503, "unavailable", "The hub could not store the event; send it again.")
    if new:
        door.received += 1
        door.wake()
    else:
        door.duplicates += 1
    if v.reply is not None:
        return PlainTextResponse(v.reply)
    return JSONResponse({"received": True, "event_id": event_id, "duplicate": not new})
