"""E-signature events: the send_contract run learns the signed status and document URL.

Dropbox Sign signs only an event's time and type, not its body (SECURITY 14), so nothing in
the body is believed: the effect reads the signature request back from Dropbox Sign with the
connection's API key and records what the vendor says. When the read fails the event is
retried like any delivery (NotYet).

DocuSign Connect signs the whole raw body with the account's HMAC key (verified at the door),
so its envelope status is believed as sent, with no read back: a read would add a vendor call
(and an OAuth token on the hub's side) to learn what the signed body already says. What the
body cannot decide is taken from the connection instead: the event must be for the
connection's DocuSign account, and the document URL is built from the connection's API host
and account, never from a URL in the body.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.connections.service import get_connection
from hub.db.base import utcnow
from hub.db.engine import Database
from hub.registry.service import get_integration
from hub.runs import service as runs
from hub.webhooks import events
from hub.webhooks.effects_base import NotYet
from hub.webhooks.endpoints import get_endpoint
from hub.webhooks.events import Claimed
from vault import Vault

#: The event types that change a request's state (others, e.g. viewed, are only stored).
STATE_EVENTS = {
    "signature_request_signed",
    "signature_request_all_signed",
    "signature_request_declined",
    "signature_request_canceled",
    "signature_request_expired",
}
READ_TIMEOUT_S = 10.0


def _request_id(ev: Claimed) -> str | None:
    doc = events.payload(ev)
    if isinstance(doc, dict) and "json" in doc:  # a form post: the event is its json field
        doc = doc["json"]
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except ValueError:
                return None
    if not isinstance(doc, dict):
        return None
    sr = doc.get("signature_request")
    rid = sr.get("signature_request_id") if isinstance(sr, dict) else None
    return rid if isinstance(rid, str) and rid.isalnum() else None


def _account(s: Session, vault: Vault, ev: Claimed) -> tuple[str, str]:
    """The connection's API base URL and key (the key never leaves this module)."""
    ep = get_endpoint(s, ev.tenant_id, ev.endpoint_id)
    conn = get_connection(s, ev.tenant_id, ep.connection_id)
    base = conn.base_url or get_integration(s, conn.integration_slug).definition["base_url"]
    key = (
        vault.read(s, ev.tenant_id, conn.credential_id).get("api_key")
        if conn.credential_id
        else None
    )
    if not key:
        raise NotYet("the Dropbox Sign connection has no API key to read the request back with")
    return base.rstrip("/"), key


def status_of(sr: dict[str, Any]) -> str:
    """signed / declined / sent, from the vendor's own record of the request."""
    codes = [s.get("status_code") for s in sr.get("signatures") or [] if isinstance(s, dict)]
    if sr.get("is_declined") or "declined" in codes:
        return "declined"
    if sr.get("is_complete") and codes and all(c == "signed" for c in codes):
        return "signed"
    return "sent"


async def dropbox_sign_effect(db: Database, vault: Vault, ev: Claimed) -> dict[str, Any] | None:
    """Re-read the signature request, then record its status on the send_contract run."""
    if ev.event_type not in STATE_EVENTS:
        return None
    request_id = _request_id(ev)
    if request_id is None:
        return None
    with db.session() as s:
        base, key = _account(s, vault, ev)
    try:
        async with httpx.AsyncClient(timeout=READ_TIMEOUT_S) as client:
            r = await client.get(f"{base}/v3/signature_request/{request_id}", auth=(key, ""))
    except httpx.HTTPError as exc:
        raise NotYet(f"Dropbox Sign could not be read back ({type(exc).__name__})") from None
    if r.status_code != 200:
        raise NotYet(f"Dropbox Sign answered HTTP {r.status_code} when read back")
    sr = r.json().get("signature_request") or {}
    status = status_of(sr)
    document_url = sr.get("files_url") or f"{base}/v3/signature_request/files/{request_id}"
    facts = {
        "status": status,
        "signed": status == "signed",
        "document_url": document_url if status == "signed" else None,
        "status_checked_at": utcnow().isoformat(),
        "status_event_id": ev.id,
    }

    def write(s: Session) -> list[str]:
        touched = runs.annotate_results(
            s,
            ev.tenant_id,
            provider="dropbox_sign",
            tools=("send_contract",),
            key="contract_id",
            value=request_id,
            fields=facts,
        )
        for run_id in touched:
            record(
                s,
                ev.tenant_id,
                "webhooks",
                f"contract.{status}",
                target=request_id[:120],
                integration="dropbox_sign",
                run_id=run_id,
                details={"event": ev.id, "event_type": ev.event_type},
            )
        return touched

    touched = await db.writer.run(write)
    return {"runs_marked": touched, "vendor_status": status, "document_url": facts["document_url"]}


#: DocuSign Connect event -> the contract status it records (other events are only stored).
DOCUSIGN_STATES = {
    "envelope-completed": "signed",
    "envelope-declined": "declined",
    "envelope-voided": "canceled",
}
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _docusign_account(s: Session, ev: Claimed) -> tuple[str, str | None]:
    """The connection's eSignature API host and account id (what the body is checked against)."""
    ep = get_endpoint(s, ev.tenant_id, ev.endpoint_id)
    conn = get_connection(s, ev.tenant_id, ep.connection_id)
    base = conn.base_url or get_integration(s, conn.integration_slug).definition["base_url"]
    account = conn.config.get("account_id")
    return base.rstrip("/"), account if isinstance(account, str) and account else None


async def docusign_effect(db: Database, vault: Vault, ev: Claimed) -> dict[str, Any] | None:
    """Record an envelope's completion, decline or void on its send_contract run."""
    status = DOCUSIGN_STATES.get(ev.event_type)
    if status is None:
        return None
    doc = events.payload(ev)
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict):
        return None
    envelope_id = data.get("envelopeId")
    if not isinstance(envelope_id, str) or not GUID.fullmatch(envelope_id):
        return None
    with db.session() as s:
        base, account = _docusign_account(s, ev)
    claimed = data.get("accountId")
    if account and isinstance(claimed, str) and claimed.lower() != account.lower():
        # Signed with this endpoint's key, but about another account: recorded, not applied.
        return {"runs_marked": [], "ignored": "the event is for another DocuSign account"}
    document_url = (
        f"{base}/restapi/v2.1/accounts/{account}/envelopes/{envelope_id}/documents/combined"
        if status == "signed" and account
        else None
    )
    facts = {
        "status": status,
        "signed": status == "signed",
        "document_url": document_url,
        "status_checked_at": utcnow().isoformat(),
        "status_event_id": ev.id,
    }

    def write(s: Session) -> list[str]:
        touched = runs.annotate_results(
            s,
            ev.tenant_id,
            provider="docusign",
            tools=("send_contract",),
            key="contract_id",
            value=envelope_id,
            fields=facts,
        )
        for run_id in touched:
            record(
                s,
                ev.tenant_id,
                "webhooks",
                f"contract.{status}",
                target=envelope_id,
                integration="docusign",
                run_id=run_id,
                details={"event": ev.id, "event_type": ev.event_type},
            )
        return touched

    touched = await db.writer.run(write)
    return {"runs_marked": touched, "vendor_status": status, "document_url": document_url}
