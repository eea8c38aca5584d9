"""The event store: the durable queue deliveries run from, deduplicated by vendor event id.

A verified event is inserted before the vendor hears 2xx; a second copy of the same vendor
event id on the same endpoint hits a unique constraint and is only acknowledged. Rows are
kept for RETENTION (well past the 72 hours vendors retry for), so dedupe keys outlive every
vendor's retry schedule.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Insert, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.core.errors import HubError, not_found
from hub.db.base import new_sorted_id, rowcount, table_of, utcnow
from hub.webhooks.models import EVENT_STATUSES, WebhookEvent
from hub.webhooks.schemes import form_fields

#: Deliveries tried before an event is dead-lettered (about 3 days with the backoff below).
MAX_ATTEMPTS = 12
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 6 * 3600.0
#: How long a worker owns a claimed event before another may take it (a killed hub's).
LEASE_S = 120.0
RETENTION = timedelta(days=30)

_events = table_of(WebhookEvent)


def backoff_s(attempts: int) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempts)], >= 1 s."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(attempts, 0))
    return max(1.0, random.uniform(ceiling / 2, ceiling))


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed event as the worker and the effects read it: plain values, not an ORM
    object (building one per event was most of a claim's cost)."""

    id: str
    tenant_id: str
    endpoint_id: str
    provider: str
    event_type: str
    content_type: str
    body: bytes
    attempts: int
    received_at: datetime


_CLAIMED_COLUMNS = tuple(_events.c[f] for f in Claimed.__dataclass_fields__)


@dataclass(frozen=True)
class NewEvent:
    """A verified event to store: what the door read from the vendor's request."""

    tenant_id: str
    endpoint_id: str
    provider: str
    dedupe_key: str
    event_type: str
    content_type: str
    body: bytes


@cache
def _insert_stmt(dialect: str) -> Insert:
    # Built once per dialect: constructing the statement per event cost more than running it.
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        ins(_events)
        .values({c: bindparam(c) for c in _INSERT_COLUMNS})
        .on_conflict_do_nothing(index_elements=["endpoint_id", "dedupe_key"])
        .returning(_events.c.id)
    )


_INSERT_COLUMNS = (
    "id",
    "tenant_id",
    "endpoint_id",
    "provider",
    "dedupe_key",
    "event_type",
    "content_type",
    "body",
    "status",
    "attempts",
    "next_attempt_at",
    "received_at",
    "replays",
)


def store_many(s: Session, batch: list[NewEvent]) -> list[tuple[str | None, bool]]:
    """Insert each event unless its dedupe key is known (in the store or earlier in the
    batch) -> (id, new) per event, in order; a duplicate's id is not looked up."""
    conn = s.connection()
    now = utcnow()
    seen: set[tuple[str, str]] = set()
    ids: list[str | None] = []
    rows: list[tuple[Any, ...]] = []
    for ev in batch:
        key = (ev.endpoint_id, ev.dedupe_key[:200])
        if key in seen:  # the same vendor event twice in one batch: the second is a repeat
            ids.append(None)
            continue
        seen.add(key)
        # Time-ordered: a batch's rows go to the end of the primary-key index, not to as
        # many random pages (half the pages a commit wrote).
        event_id = new_sorted_id("evt")
        ids.append(event_id)
        rows.append(
            (
                event_id,
                ev.tenant_id,
                ev.endpoint_id,
                ev.provider,
                key[1],
                ev.event_type[:120],
                ev.content_type[:120],
                ev.body,
                "received",
                0,
                now,
                now,
                0,
            )
        )
    if not rows:
        return [(None, False)] * len(ids)
    # One multi-row INSERT for the batch: a statement per event was most of the writer's
    # time. RETURNING, not rowcount (psycopg reports -1 for ON CONFLICT DO NOTHING): the ids
    # it returns are the rows inserted, the rest repeats.
    if conn.dialect.name == "sqlite":
        inserted = _insert_sqlite(conn, rows, now)
    else:
        stmt = _insert_stmt(conn.dialect.name)
        params = [dict(zip(_INSERT_COLUMNS, r, strict=True)) for r in rows]
        inserted = set(conn.execute(stmt, params).scalars())
    return [(i, True) if i in inserted else (None, False) for i in ids]


#: Rows per SQLite statement at most (13 parameters each, far under SQLite's 32,766).
_SQLITE_ROWS = 256


@cache
def _sqlite_insert_sql(n: int) -> str:
    cols = ", ".join(_INSERT_COLUMNS)
    one = "(" + ", ".join("?" * len(_INSERT_COLUMNS)) + ")"
    # Only constant column names and placeholders: the values are parameters.
    return (
        f"INSERT INTO webhook_events ({cols}) VALUES {', '.join([one] * n)} "  # noqa: S608
        "ON CONFLICT (endpoint_id, dedupe_key) DO NOTHING RETURNING id"
    )


def _insert_sqlite(conn: Connection, rows: list[tuple[Any, ...]], now: datetime) -> set[str]:
    """The batch as plain parameters: SQLAlchemy's per-value processing of a compiled
    multi-row INSERT cost more of the writer's time than SQLite's own work. Only the two
    timestamps need the column type's conversion, and they are the same for every row."""
    stamp = _stamp_processor(conn.dialect)(now)
    out: set[str] = set()
    for i in range(0, len(rows), _SQLITE_ROWS):
        part = rows[i : i + _SQLITE_ROWS]
        flat: list[Any] = []
        for r in part:
            flat.extend(r[:10])
            flat.extend((stamp, stamp, r[12]))
        res = conn.exec_driver_sql(_sqlite_insert_sql(len(part)), tuple(flat))
        out.update(row[0] for row in res)
    return out


@cache
def _stamp_processor(dialect: Dialect) -> Callable[[datetime], Any]:
    proc = _events.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
    return proc if proc is not None else (lambda v: v)


def store(
    s: Session,
    *,
    tenant_id: str,
    endpoint_id: str,
    provider: str,
    dedupe_key: str,
    event_type: str,
    content_type: str,
    body: bytes,
) -> tuple[str | None, bool]:
    """Insert one event unless its dedupe key is known -> (id, new)."""
    ev = NewEvent(tenant_id, endpoint_id, provider, dedupe_key, event_type, content_type, body)
    return store_many(s, [ev])[0]


def payload(ev: WebhookEvent | Claimed) -> Any:
    """The event's body as data: JSON parsed, a form as a dict, else the text."""
    text = ev.body.decode("utf-8", "replace")
    ct = ev.content_type.split(";")[0].strip().lower()
    if ct == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    if ct == "multipart/form-data":
        return form_fields(ev.body, ev.content_type)
    try:
        return json.loads(text)
    except ValueError:
        return text


def get_event(s: Session, tenant_id: str, event_id: str) -> WebhookEvent:
    """One event of this tenant (the same 404 for another tenant's)."""
    ev = s.get(WebhookEvent, event_id)
    if ev is None or ev.tenant_id != tenant_id:
        raise not_found("event")
    return ev


def list_events(
    s: Session,
    tenant_id: str,
    *,
    provider: str | None = None,
    event_type: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    before_id: str | None = None,
    offset: int = 0,
) -> list[WebhookEvent]:
    """Newest-first events of one tenant, filtered; page with `before_id` or `offset`."""
    if status is not None and status not in EVENT_STATUSES:
        raise HubError(
            "invalid_request",
            f"status must be one of {', '.join(EVENT_STATUSES)}.",
            details={"field": "status"},
        )
    q = select(WebhookEvent).where(WebhookEvent.tenant_id == tenant_id)
    if provider:
        q = q.where(WebhookEvent.provider == provider)
    if event_type:
        q = q.where(
            WebhookEvent.event_type.startswith(event_type, autoescape=True)
            if event_type.endswith(".")
            else WebhookEvent.event_type == event_type
        )
    if status:
        q = q.where(WebhookEvent.status == status)
    if since:
        q = q.where(WebhookEvent.received_at >= since)
    if until:
        q = q.where(WebhookEvent.received_at < until)
    if before_id:
        anchor = s.get(WebhookEvent, before_id)
        if anchor is not None and anchor.tenant_id == tenant_id:
            q = q.where(
                (WebhookEvent.received_at < anchor.received_at)
                | ((WebhookEvent.received_at == anchor.received_at) & (WebhookEvent.id < anchor.id))
            )
    q = q.order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
    return list(s.scalars(q.offset(offset).limit(max(1, min(limit, 201)))))


def dead_count(s: Session, tenant_id: str) -> int:
    """How many of the tenant's events are dead-lettered (the console's navigation badge)."""
    q = select(func.count()).where(
        WebhookEvent.tenant_id == tenant_id, WebhookEvent.status == "dead"
    )
    return int(s.scalar(q) or 0)


def replay(s: Session, tenant_id: str, actor: str, event_id: str) -> WebhookEvent:
    """Queue an event for delivery again now (dead, delivered or waiting), with fresh attempts."""
    ev = get_event(s, tenant_id, event_id)
    if ev.status == "delivering" and ev.lease_until and ev.lease_until > utcnow():
        raise HubError(
            "in_progress",
            "This event is being delivered right now; replay it once that attempt ends.",
        )
    before = ev.status
    ev.status, ev.attempts, ev.next_attempt_at = "received", 0, utcnow()
    ev.lease_until, ev.replays = None, ev.replays + 1
    record(
        s,
        tenant_id,
        actor,
        "webhook.replayed",
        target=ev.id,
        integration=ev.provider,
        details={"previous_status": before, "event_type": ev.event_type},
    )
    s.flush()
    return ev


_DUE_IDS = (
    select(_events.c.id)
    .where(
        ((_events.c.status == "received") & (_events.c.next_attempt_at <= bindparam("now")))
        | ((_events.c.status == "delivering") & (_events.c.lease_until < bindparam("now")))
    )
    .order_by(_events.c.next_attempt_at)
    .limit(bindparam("lim"))
)
# One statement claims a batch: the due rows' ids (subquery), a compare-and-set on their
# status (with several replicas each row goes to one: PostgreSQL re-checks the condition on a
# row another claim updated first) and the claimed rows back through RETURNING.
_CLAIM = (
    update(_events)
    .where(
        _events.c.id.in_(_DUE_IDS.scalar_subquery()),
        (
            (_events.c.status == "received")
            | ((_events.c.status == "delivering") & (_events.c.lease_until < bindparam("now")))
        ),
    )
    .values(
        status="delivering",
        lease_until=bindparam("lease"),
        attempts=_events.c.attempts + 1,
    )
    .returning(*_CLAIMED_COLUMNS)
)
_DELIVERED = (
    update(_events)
    .where(_events.c.id == bindparam("eid"))
    .values(
        status="delivered",
        delivered_at=bindparam("at"),
        lease_until=None,
        last_error=None,
        result=bindparam("res"),
    )
)


def claim_due(s: Session, limit: int = 20) -> list[Claimed]:
    """Take up to `limit` events due for delivery (or whose worker's lease ran out)."""
    # Prebuilt statements (above): building them per claim was the worker's largest cost.
    now = utcnow()
    lease = now + timedelta(seconds=LEASE_S)
    rows = s.connection().execute(_CLAIM, {"now": now, "lim": limit, "lease": lease})
    return [Claimed(*r) for r in rows]


def release_leases(s: Session) -> int:
    """Return every claimed event to the queue (a single hub starting: the claims are its own
    dead predecessor's)."""
    res = s.execute(
        update(WebhookEvent)
        .where(WebhookEvent.status == "delivering")
        .values(status="received", lease_until=None, next_attempt_at=utcnow())
    )
    return rowcount(res)


def delivered(s: Session, event_id: str, result: dict[str, Any] | None) -> None:
    """The handler accepted the event."""
    delivered_many(s, [(event_id, result)])


def delivered_many(s: Session, done: list[tuple[str, dict[str, Any] | None]]) -> None:
    """The handler accepted these events: one prebuilt UPDATE, executed for the batch."""
    if not done:
        return
    now = utcnow()
    s.connection().execute(
        _DELIVERED, [{"eid": event_id, "at": now, "res": result} for event_id, result in done]
    )


def failed(s: Session, event_id: str, error: str, *, retry: bool = True) -> str:
    """A delivery attempt failed: schedule the next with backoff, or dead-letter -> status."""
    ev = s.get(WebhookEvent, event_id)
    if ev is None:
        return "gone"
    if retry and ev.attempts < MAX_ATTEMPTS:
        ev.status = "received"
        ev.next_attempt_at = utcnow() + timedelta(seconds=backoff_s(ev.attempts))
    else:
        ev.status = "dead"
        record(
            s,
            ev.tenant_id,
            "webhooks",
            "webhook.dead_lettered",
            target=ev.id,
            integration=ev.provider,
            success=False,
            error_message=error[:500],
            details={"attempts": ev.attempts, "event_type": ev.event_type},
        )
    ev.lease_until, ev.last_error = None, error[:2000]
    s.flush()
    return ev.status


def wait_without_attempt(s: Session, event_id: str, error: str, delay_s: float) -> None:
    """Delivery cannot start (n8n down): try again later without spending an attempt."""
    s.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id)
        .values(
            status="received",
            attempts=func.max(WebhookEvent.attempts - 1, 0)
            if s.connection().dialect.name == "sqlite"
            else func.greatest(WebhookEvent.attempts - 1, 0),
            next_attempt_at=utcnow() + timedelta(seconds=delay_s),
            lease_until=None,
            last_error=error[:2000],
        )
    )


def next_due_in_s(s: Session) -> float | None:
    """Seconds until the earliest waiting event is due (None when nothing waits)."""
    at = s.scalar(
        select(func.min(WebhookEvent.next_attempt_at)).where(WebhookEvent.status == "received")
    )
    if at is None:
        return None
    if at.tzinfo is None:
        from datetime import UTC

        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - utcnow()).total_seconds())


def purge_old(s: Session) -> int:
    """Delete delivered events older than RETENTION (dead ones stay until replayed)."""
    cutoff = utcnow() - RETENTION
    res = s.execute(
        delete(WebhookEvent).where(
            WebhookEvent.status == "delivered", WebhookEvent.received_at < cutoff
        )
    )
    return rowcount(res)
