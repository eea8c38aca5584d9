"""The call path's writes: one at a time, on one connection, committed together when queued.

Every tool call writes twice (prepare before the webhook, finish after it). From many threads
those writes fight for SQLite's single write lock, and SQLite's busy handler backs off by
sleeping whole milliseconds; one writer never waits on a lock it holds itself, and a batch of
jobs shares one commit (group commit), which is what lets throughput grow with callers.

A job is a function of a Session that must be safe to run again: when one job in a batch
raises, the batch is rolled back and each job is re-run in a transaction of its own, so one
refusal never costs another call its write.

On SQLite, when one call at a time is in flight (callers mark themselves with `calling()`),
a job runs at once on the caller's event loop instead of on the thread: the database is a
local file and a job takes a fraction of a millisecond, less than the two thread switches it
saves. It never waits there: its transaction starts with BEGIN IMMEDIATE and no busy
timeout, and if another connection holds the write lock the job goes to the thread, which
may wait. With several calls in flight the thread's group commits win, so it takes them.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

log = logging.getLogger("hub.db.writer")

T = TypeVar("T")
Job = Callable[[Session], Any]

MAX_BATCH = 64


class _Locked(Exception):
    """Another connection holds SQLite's write lock (the inline path does not wait)."""


class Writer:
    """Serialises jobs onto one connection; each caller gets its own job's result or error."""

    def __init__(self, engine: Engine, *, inline: bool = False) -> None:
        self.engine = engine
        self.inline = inline
        self._q: queue.SimpleQueue[tuple[Job, Future] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Held while a batch or an inline job runs: they share the connections below.
        self._busy = threading.Lock()
        self._conn: Connection | None = None
        self._inline_conn: Connection | None = None
        self._callers = 0
        self.batches = 0
        self.jobs = 0
        self.inline_jobs = 0

    @contextmanager
    def calling(self) -> Iterator[None]:
        """Mark a call in flight for the duration (several at once turn the inline path off)."""
        self._callers += 1
        try:
            yield
        finally:
            self._callers -= 1

    def inline_ready(self) -> bool:
        """Whether a job handed to run() now would run inline (SQLite, at most one call in
        flight, nothing queued): done before the event loop serves anything else."""
        return self.inline and self._callers <= 1 and self._q.empty()

    def submit(self, job: Callable[[Session], T]) -> Future[T]:
        """Queue a job for the thread; the future resolves once its transaction committed."""
        self._ensure_started()
        fut: Future[T] = Future()
        self._q.put((job, fut))
        return fut

    async def run(self, job: Callable[[Session], T]) -> T:
        """Run a job from async code; cancelling the caller does not cancel a queued write."""
        if (
            self.inline
            and self._callers <= 1
            and self._q.empty()
            and self._busy.acquire(blocking=False)
        ):
            try:
                return self._run_inline(job)
            except _Locked:
                pass
            finally:
                self._busy.release()
        return await asyncio.shield(asyncio.wrap_future(self.submit(job)))

    def run_sync(self, job: Callable[[Session], T]) -> T:
        """Run a job from a worker thread and wait for it."""
        return self.submit(job).result()

    def close(self) -> None:
        """Finish the queued jobs, stop the thread and close the connections."""
        with self._lock:
            t, self._thread = self._thread, None
        if t is not None:
            self._q.put(None)
            t.join(30)
        with self._busy:
            for conn in (self._conn, self._inline_conn):
                if conn is not None:
                    conn.close()
            self._conn = self._inline_conn = None

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
                with self._busy:
                    self._run_batch(batch)

    def _session(self) -> Session:
        # The thread keeps its own connection: a pool checkout per batch cost more than a
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

    def _run_inline(self, job: Callable[[Session], T]) -> T:
        conn = self._inline_conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._inline_conn = self.engine.connect()
            conn.exec_driver_sql("PRAGMA busy_timeout=0")  # never wait on the event loop
            conn.commit()  # the statement began a transaction
        try:
            with Session(bind=conn, expire_on_commit=False) as s:
                s.connection()  # BEGIN IMMEDIATE: the write lock now, or "locked" at once
                result = job(s)
                s.commit()
        except OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise _Locked from None
            raise
        self.inline_jobs += 1
        return result


def _lost_connection(exc: Exception) -> bool:
    """Whether the database connection itself failed (worth one more try on a new one)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
