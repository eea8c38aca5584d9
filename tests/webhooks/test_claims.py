"""The event store as a queue (hub.webhooks.events): a batch insert keeps each vendor event
once, and concurrent claimers (two replicas' workers) each get a disjoint share, every due
event exactly once, its attempt counted once."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.accounts import service as accounts
from hub.connections import service as connections
from hub.runtime import Runtime, open_runtime
from hub.webhooks import events
from hub.webhooks import service as webhooks
from hub.webhooks.events import NewEvent
from hub.webhooks.models import WebhookEvent
from tests.conftest import fresh_database_url, make_settings


@pytest.fixture
def store(
    backend: str, tmp_path: Path, pg_server: str | None
) -> Iterator[tuple[Runtime, str, str]]:
    """A hub of its own (no delivery worker) with a Stripe endpoint: (runtime, tenant, endpoint)."""
    url, drop = fresh_database_url(backend, tmp_path, pg_server)
    rt = open_runtime(make_settings(tmp_path, url))
    with rt.db.session() as s:
        t = accounts.create_tenant(s, f"claims-{secrets.token_hex(3)}")
        conn = connections.create_connection(
            s,
            rt.vault,
            t.id,
            "stripe",
            integration="stripe",
            credentials={"secret_key": "sk_test_" + "0" * 24, "webhook_signing_secret": "whsec_x"},
        )
        s.flush()
        hook = webhooks.webhook_url_for(s, "http://127.0.0.1:1", t.id, conn.id)
        tenant_id = t.id
    assert hook is not None
    try:
        yield rt, tenant_id, hook.rsplit("/", 1)[1]
    finally:
        rt.close()
        drop()


def new_event(tenant_id: str, endpoint_id: str, key: str) -> NewEvent:
    body = b'{"id": "%s", "type": "charge.succeeded"}' % key.encode()
    return NewEvent(
        tenant_id, endpoint_id, "stripe", key, "charge.succeeded", "application/json", body
    )


def test_a_batch_stores_each_vendor_event_once(store):
    rt, tenant_id, endpoint_id = store
    with rt.db.session() as s:
        first = events.store_many(s, [new_event(tenant_id, endpoint_id, "evt_a")])
    batch = ["evt_b", "evt_a", "evt_c", "evt_b", "evt_d"]  # a repeat of the store and of itself
    with rt.db.session() as s:
        out = events.store_many(s, [new_event(tenant_id, endpoint_id, k) for k in batch])
    assert [new for _, new in out] == [True, False, True, False, True]
    assert all(i is None for i, new in out if not new)
    with rt.db.session() as s:
        rows = {e.dedupe_key: e.id for e in s.scalars(select(WebhookEvent))}
    assert sorted(rows) == ["evt_a", "evt_b", "evt_c", "evt_d"]
    assert rows["evt_a"] == first[0][0]
    assert {rows[k] for k in ("evt_b", "evt_c", "evt_d")} == {i for i, new in out if new}


def test_concurrent_claimers_share_the_due_events_without_overlap(store):
    rt, tenant_id, endpoint_id = store
    n = 400
    with rt.db.session() as s:
        stored = events.store_many(
            s, [new_event(tenant_id, endpoint_id, f"evt_{i}") for i in range(n)]
        )
    assert all(new for _, new in stored)
    claimed: list[list[str]] = [[] for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def claimer(k: int) -> None:
        try:
            start.wait()
            while True:
                with rt.db.session() as s:
                    got = events.claim_due(s, limit=25)
                if not got:
                    return
                claimed[k] += [e.id for e in got]
                assert all(e.attempts == 1 for e in got)  # the status: read back below
        except BaseException as exc:  # surfaced below: a thread's assert fails the test
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    every = [i for share in claimed for i in share]
    assert len(every) == len(set(every)) == n  # each event to exactly one claimer
    assert set(every) == {i for i, _ in stored}
    with rt.db.session() as s:
        rows = list(s.scalars(select(WebhookEvent)))
    assert {(e.status, e.attempts) for e in rows} == {("delivering", 1)}
    assert all(e.lease_until is not None for e in rows)
    with rt.db.session() as s:
        assert events.claim_due(s, limit=25) == []  # leased: nothing is due again
