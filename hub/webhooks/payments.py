"""Stripe and Square payment events: the payment links and charges the hub created, marked paid.

A Checkout Session completed and paid marks the `create_payment_link` run that made it; a
PaymentIntent that succeeded marks the `charge_card` run (a refund, `charge.refunded`, marks
it refunded). Each touched run gets `paid`/`refunded`, the vendor's status and when, and one
audit row, so an agent reading the run (REST, hub_query) sees the money arrived.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.db.base import utcnow
from hub.db.engine import Database
from hub.runs import service as runs
from hub.webhooks import events
from hub.webhooks.effects_base import batch_memo
from hub.webhooks.events import Claimed
from vault import Vault

# Stripe event type -> (tools whose runs it concerns, result key holding the object id, facts)
STRIPE: dict[str, tuple[tuple[str, ...], str, dict[str, Any]]] = {
    "checkout.session.completed": (("create_payment_link",), "payment_link_id", {"paid": True}),
    "checkout.session.async_payment_succeeded": (
        ("create_payment_link",),
        "payment_link_id",
        {"paid": True},
    ),
    "payment_intent.succeeded": (("charge_card",), "payment_id", {"paid": True}),
    "charge.refunded": (("charge_card",), "payment_id", {"refunded": True}),
}


def stripe_facts(ev: Claimed) -> tuple[tuple[str, ...], str, str, dict[str, Any]] | None:
    """(tools, result key, object id, facts) for a Stripe event about a hub-made object."""
    rule = STRIPE.get(ev.event_type)
    doc = events.payload(ev)
    obj = doc.get("data", {}).get("object", {}) if isinstance(doc, dict) else {}
    if rule is None or not isinstance(obj, dict):
        return None
    tools, key, facts = rule
    if ev.event_type == "checkout.session.completed" and obj.get("payment_status") not in (
        "paid",
        "no_payment_required",
        None,
    ):
        return None  # an async payment still pending: its own event follows
    # A refund event's object is the charge; the run holds the PaymentIntent.
    object_id = obj.get("payment_intent") if ev.event_type == "charge.refunded" else obj.get("id")
    if not isinstance(object_id, str) or not object_id:
        return None
    stamp = {"payment_status_at": utcnow().isoformat(), "payment_event_id": ev.id}
    return tools, key, object_id, {**facts, **stamp}


def _mark(s: Session, ev: Claimed) -> dict[str, Any] | None:
    got = stripe_facts(ev)
    if got is None:
        return None
    tools, key, object_id, facts = got
    touched = runs.annotate_results(
        s, ev.tenant_id, provider="stripe", tools=tools, key=key, value=object_id, fields=facts
    )
    for run_id in touched:
        record(
            s,
            ev.tenant_id,
            "webhooks",
            "payment.refunded" if facts.get("refunded") else "payment.paid",
            target=object_id[:120],
            integration="stripe",
            run_id=run_id,
            details={"event": ev.id, "event_type": ev.event_type},
        )
    return {"runs_marked": touched, "object_id": object_id}


async def stripe_effect(db: Database, vault: Vault, ev: Claimed) -> dict[str, Any] | None:
    """Mark the runs a Stripe payment event concerns (no write for other events)."""
    if ev.event_type not in STRIPE:
        return None
    got = stripe_facts(ev)
    if got is None:
        return None

    # A read first, off the database writer: most payment events concern no run the hub made
    # (a dashboard charge), and the writer is what the door's acknowledgements wait on.
    def check() -> bool:
        with db.engine.connect() as conn:
            return runs.may_annotate(conn, ev.tenant_id, provider="stripe", tools=got[0])

    # SQLite reads a local file in microseconds; PostgreSQL is a round trip, kept off the loop.
    # Once per batch and tenant (the answer does not depend on the event).
    memo = batch_memo.get()
    key = ("stripe", ev.tenant_id, got[0])
    if memo is not None and key in memo:
        may = memo[key]
    else:
        local = db.engine.dialect.name == "sqlite"
        may = check() if local else await asyncio.to_thread(check)
        if memo is not None:
            memo[key] = may
    if not may:
        return {"runs_marked": [], "object_id": got[2]}
    return await db.writer.run(lambda s: _mark(s, ev))
