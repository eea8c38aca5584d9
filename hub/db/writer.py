"""One thread that runs the call path's writes, committing whatever is queued together.

Every tool call writes twice (admit before the webhook, finish after it). From many threads
those writes fight for SQLite's single write lock, and SQLite's busy handler backs off by
sleeping whole milliseconds; one writer never waits on a lock, and a batch of jobs shares
one commit (group commit), which is what lets throughput grow with concurrent callers.

A job is a function of a Session that must be safe to run again: when one job in a batch
raises, the batch is rolled back and each job is re-run in a transaction of its own, so one
refusal never costs another call its write.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger("hub.db.writer")

T = TypeVar("T")
Job = Callable[[Session], Any]

MAX_BATCH = 64


class Writer:
    """Serialises jobs onto one connection; each caller gets its own job's result or error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._q: queue.SimpleQueue[tuple[Job, Future] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self.batches = 0
        self.jobs = 0

    def submit(self, job: Callable[[Session], T]) -> Future[T]:
        """Queue a job; the future resolves once its transaction has committed."""
        self._ensure_started()
        fut: Future[T] = Future()
        self._q.put((job, fut))
        return fut

    async def run(self, job: Callable[[Session], T]) -> T:
        """Run a job from async code; cancelling the caller does not cancel a queued write."""
        return await asyncio.shield(asyncio.wrap_future(self.submit(job)))

    def run_sync(self, job: Callable[[Session], T]) -> T:
        """Run a job from a worker thread and wait for it."""
        return self.submit(job).result()

    def close(self) -> None:
        """Finish the queued jobs and stop the thread."""
        with self._lock:
            t, self._thread = self._thread, None
        if t is not None:
            self._q.put(None)
            t.join(30)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="hub-db-writer", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        stop = False
        while not stop:
            item = self._q.get()
            batch: list[tuple[Job, Future]] = []
            if item is None:
                stop = True
            else:
                batch.append(item)
            # Take what queued up meanwhile: those jobs share this batch's commit.
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            if batch:
                self._run_batch(batch)

    def _session(self) -> Session:
        # The writer keeps its own connection: a pool checkout per batch cost more than a
        # statement. One that broke (a database restart) is replaced on the next batch.
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            if self._conn is not None:
                self._conn.close()
            self._conn = self.engine.connect()
        return Session(bind=self._conn, expire_on_commit=False)

    def _run_batch(self, batch: list[tuple[Job, Future]]) -> None:
        live = [(job, fut) for job, fut in batch if fut.set_running_or_notify_cancel()]
        if not live:
            return
        self.batches += 1
        self.jobs += len(live)
        results: list[Any] = []
        try:
            with self._session() as s:
                for job, _ in live:
                    results.append(job(s))
                s.commit()
        except Exception as exc:
            if len(live) == 1 and not _lost_connection(exc):
                live[0][1].set_exception(exc)
                return
            # Someone's job failed (or the connection did): each job gets its own transaction.
            for job, fut in live:
                self._run_alone(job, fut)
            return
        for (_, fut), result in zip(live, results, strict=True):
            fut.set_result(result)

    def _run_alone(self, job: Job, fut: Future) -> None:
        try:
            with self._session() as s:
                result = job(s)
                s.commit()
        except Exception as exc:  # the caller gets the error, the writer goes on
            fut.set_exception(exc)
            return
        fut.set_result(result)


def _lost_connection(exc: Exception) -> bool:
    """Whether the database connection itself failed (worth one more try on a new one)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
