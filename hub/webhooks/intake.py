"""Group commit for the door: concurrent verified events share one INSERT transaction.

A commit per event made the database writer the door's bottleneck. Events that arrive while
a batch is being written wait for the next one, so under load each transaction carries many
events and at rest an event goes out alone at once (no timer). Every caller is answered only
after the transaction holding its row committed, so an acknowledged event is on disk; a
batch that fails answers every one of its callers with the error (nothing of it committed),
and the vendor retries. Duplicates, in the batch or against the store, are reported as such
by events.store_many, never stored twice.
"""

from __future__ import annotations

import asyncio
from functools import partial

from hub.db.engine import Database
from hub.webhooks import events
from hub.webhooks.events import NewEvent

#: Events per transaction at most (a larger backlog goes out in several).
MAX_BATCH = 256


class Intake:
    """Collects the door's events on the event loop and writes them a batch at a time."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[NewEvent, asyncio.Future[tuple[str | None, bool]]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0

    async def store(self, ev: NewEvent) -> tuple[str | None, bool]:
        """Store one event with whatever else is waiting -> (id, new) once committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[str | None, bool]] = loop.create_future()
        self._pending.append((ev, fut))
        # A flusher of another (closed) loop never runs again: one per loop that posts.
        if self._flusher is None or self._flusher.done() or self._flusher.get_loop() is not loop:
            self._flusher = asyncio.create_task(self._flush())
        # A caller that goes away cancels only its own future: the batch is written by the
        # flusher task, which skips answering a future that is done.
        return await fut

    async def _flush(self) -> None:
        # Let the requests already readable reach the list before the first batch goes.
        await asyncio.sleep(0)
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            rows = [ev for ev, _ in batch]
            try:
                # On the writer's thread, never inline: the loop goes on verifying the next
                # requests while SQLite commits this batch.
                job = partial(events.store_many, batch=rows)
                results = await asyncio.wrap_future(self.db.writer.submit(job))
            except Exception as exc:  # not committed: every caller of the batch hears it
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
