"""Moving SQLite's write-ahead log into the database file off the call path.

SQLite checkpoints the WAL inside whichever commit crosses the autocheckpoint size, and that
commit also pays the fsync: every few hundred tool calls one of them stalled for it. A
serving hub checkpoints from this thread instead (PASSIVE: it never blocks the writer), and
the engines' autocheckpoint thresholds are set high enough (hub.db.engine) to be a backstop.
It runs often (INTERVAL_S) so the log stays short: a checkpoint's cost grows with it.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger("hub.db.checkpoint")

INTERVAL_S = 0.1


class Checkpointer:
    """A daemon thread that runs PRAGMA wal_checkpoint(PASSIVE) every INTERVAL_S."""

    def __init__(self, engine: Engine, interval_s: float = INTERVAL_S) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Checkpointer:
        """Start the thread (SQLite engines only; a no-op for others)."""
        if self.engine.dialect.name == "sqlite" and self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="hub-wal-checkpoint", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread after its current checkpoint."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                with self.engine.connect() as c:
                    c.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:  # the next round tries again; commits still checkpoint
                log.warning("wal checkpoint failed", extra={"exc_type": type(exc).__name__})
