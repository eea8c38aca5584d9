"""The delivery worker: from the event store to the provider's n8n handler workflow.

The store is the queue. The worker claims due events (a lease, so a second replica or a
restarted hub takes over an abandoned one), runs the hub's own effects for the event type
(hub.webhooks.effects) and POSTs the event to the live version of the provider's handler
workflow (`<provider>/on_event.v<N>.json`, webhook `hub/<provider>/on_event/v<N>`) when one
is deployed. A failure is retried with full-jitter exponential backoff until MAX_ATTEMPTS,
then dead-lettered; while n8n cannot be reached at all the event waits without spending an
attempt and goes out once n8n is back. Delivery is at least once: handlers get the event id
to recognise a repeat (a hub killed mid-delivery sends that event again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy.orm import Session

from hub.core.hop import Hop, NotSent, OutcomeUnknown
from hub.db.base import utcnow
from hub.db.engine import Database
from hub.n8n.deployments import deployments
from hub.n8n.lint import HANDLER_TOOL
from hub.runs.callpath import CallPath
from hub.webhooks import effects, events
from hub.webhooks.effects_base import batch_memo
from hub.webhooks.events import Claimed
from hub.webhooks.models import WebhookEvent
from hub.webhooks.refusals import Refusals
from vault import Vault

log = logging.getLogger("hub.webhooks")
TICK_S = 5.0
CONCURRENCY = 4
#: Delay before trying again while n8n cannot be reached (no attempt is spent).
N8N_DOWN_RETRY_S = 3.0
DELIVERY_TIMEOUT_S = 30.0


def handler_version(s: Session, provider: str) -> int | None:
    """The newest active deployment of the provider's handler workflow, if any."""
    active = [d.version for d in deployments(s, provider, HANDLER_TOOL) if d.active]
    return max(active) if active else None


#: How long a provider's handler version is reused before it is looked up again (a new
#: deployment is picked up within this time).
HANDLER_TTL_S = 5.0
#: After the bell rings, wait this long so that events arriving together are claimed together.
GATHER_S = 0.02


def handler_body(ev: Claimed) -> dict[str, Any]:
    """What a handler workflow receives: the event, parsed, and who it is for."""
    return {
        "event_id": ev.id,
        "tenant_id": ev.tenant_id,
        "provider": ev.provider,
        "type": ev.event_type,
        "received_at": ev.received_at.isoformat(),
        "attempt": ev.attempts,
        "payload": events.payload(ev),
    }


class Deliverer:
    """Runs on the app's event loop; `wake()` may be called from any thread."""

    def __init__(
        self, db: Database, vault: Vault, calls: CallPath, refusals: Refusals | None = None
    ) -> None:
        self.db = db
        self.vault = vault
        self.calls = calls
        self.refusals = refusals
        self._bell = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._hop_checked = 0.0
        self.delivered = 0
        self.failures = 0
        # A paused worker claims nothing (an operator draining a replica; tests of another).
        self.paused = False
        self._handlers: dict[str, tuple[int | None, float]] = {}
        self._done: list[tuple[str, dict[str, Any] | None]] = []

    def wake(self) -> None:
        """Ask the worker to look for due events now."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._bell.set()
        else:
            loop.call_soon_threadsafe(self._bell.set)

    def start(self) -> None:
        """Start the loop on the running event loop (a hub on SQLite first frees old leases)."""
        self._loop = asyncio.get_running_loop()
        self._bell = asyncio.Event()
        if self.db.url.startswith("sqlite"):
            # One hub serves an SQLite file: a lease left by a killed process is an orphan.
            with self.db.session() as s:
                events.release_leases(s)
        self._task = asyncio.create_task(self._run(), name="hub-webhook-delivery")

    async def stop(self) -> None:
        """Stop after the attempts in flight (their outcome is written)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.refusals is not None:
            with contextlib.suppress(Exception):
                await self.db.writer.run(lambda s: self.refusals.flush(s, force=True))  # type: ignore[union-attr]

    async def _run(self) -> None:
        last_flush = 0.0
        while True:
            try:
                worked = await self.run_once()
                if self.refusals is not None and time.monotonic() - last_flush > TICK_S:
                    last_flush = time.monotonic()
                    await self.db.writer.run(self.refusals.flush)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the worker must outlive a database hiccup
                log.error("webhook delivery loop failed", extra={"exc_type": type(exc).__name__})
                worked = 0
            if worked:
                continue
            wait = await asyncio.to_thread(self._next_due)
            self._bell.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bell.wait(), min(TICK_S, wait))

    def _next_due(self) -> float:
        with self.db.session() as s:
            due = events.next_due_in_s(s)
        return TICK_S if due is None else max(0.05, due)

    async def run_once(self) -> int:
        """Claim and deliver one batch of due events -> how many were attempted."""
        if self.paused:
            return 0
        await asyncio.sleep(GATHER_S)
        batch = await asyncio.wrap_future(
            self.db.writer.submit(lambda s: events.claim_due(s, limit=100))
        )
        if not batch:
            return 0
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(ev: Claimed) -> None:
            async with sem:
                await self.deliver(ev)

        # Events that go nowhere over the network (no handler workflow, a local effect) are
        # done one after another: a task per event cost more than delivering it.
        local = [ev for ev in batch if self._local(ev.provider)]
        memo = batch_memo.set({})
        try:
            for ev in local:
                await self.deliver(ev)
            await asyncio.gather(*(one(ev) for ev in batch if not self._local(ev.provider)))
        finally:
            batch_memo.reset(memo)
            await self._write_delivered()
        return len(batch)

    async def _write_delivered(self) -> None:
        # One transaction for the batch's successes (each is also safe to write again).
        done, self._done = self._done, []
        if not done:
            return

        await self.db.writer.run(lambda s: events.delivered_many(s, done))
        self.delivered += len(done)

    def _handler_version(self, provider: str) -> int | None:
        now = time.monotonic()
        known = self._handlers.get(provider)
        if known is not None and now - known[1] < HANDLER_TTL_S:
            return known[0]
        with self.db.session() as s:
            version = handler_version(s, provider)
        self._handlers[provider] = (version, now)
        return version

    def _local(self, provider: str) -> bool:
        return provider not in effects.READS_BACK and self._handler_version(provider) is None

    def _hop(self) -> Hop | None:
        if self.calls.hop is None and time.monotonic() - self._hop_checked > N8N_DOWN_RETRY_S:
            self._hop_checked = time.monotonic()
            self.calls.refresh_hop()  # `hub workflows deploy` may have registered n8n since
        return self.calls.hop

    async def deliver(self, ev: Claimed) -> None:
        """One attempt: the hub's effects, then the handler workflow; the outcome is written."""
        try:
            result = await effects.apply(self.db, self.vault, ev)
        except effects.NotYet as exc:
            await self._failed(ev, str(exc))
            return
        version = self._handler_version(ev.provider)
        if version is None:
            await self._delivered(ev, result)
            return
        hop = self._hop()
        path = f"hub/{ev.provider}/{HANDLER_TOOL}/v{version}"
        if hop is None:
            await self._wait(ev, "n8n is not configured; the event waits for it")
            return
        try:
            answer = await hop.post(path, handler_body(ev), timeout_s=DELIVERY_TIMEOUT_S)
        except NotSent as exc:
            await self._wait(ev, f"n8n unreachable: {exc}")
            return
        except OutcomeUnknown as exc:
            await self._failed(ev, f"no answer from the handler: {exc}")
            return
        if answer.get("ok") is True:
            data = answer.get("data")
            merged = {**(result or {}), **(data if isinstance(data, dict) else {})}
            await self._delivered(ev, merged or None)
            return
        raw_err = answer.get("error")
        err: dict[str, Any] = raw_err if isinstance(raw_err, dict) else {}
        kind = str(err.get("kind", "failed"))
        message = str(err.get("message", ""))[:300]
        await self._failed(ev, f"handler answered {kind}: {message}".rstrip(": "))

    async def _delivered(self, ev: Claimed, result: dict[str, Any] | None) -> None:
        self._done.append((ev.id, result))  # written with the rest of the batch
        log.info(
            "webhook event delivered",
            extra={"event": ev.id, "provider": ev.provider, "attempts": ev.attempts},
        )

    async def _failed(self, ev: Claimed, error: str) -> None:
        status = await self.db.writer.run(lambda s: events.failed(s, ev.id, error))
        self.failures += 1
        log.warning(
            "webhook delivery failed",
            extra={"event": ev.id, "provider": ev.provider, "status": status},
        )

    async def _wait(self, ev: Claimed, error: str) -> None:
        await self.db.writer.run(
            lambda s: events.wait_without_attempt(s, ev.id, error, N8N_DOWN_RETRY_S)
        )


def overdue(ev: WebhookEvent) -> bool:
    """Whether an event waits past its due time (for the console)."""
    return ev.status == "received" and ev.next_attempt_at < utcnow()
