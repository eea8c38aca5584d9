"""Engine and session factory; SQLite gets WAL and foreign keys, PostgreSQL a pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from hub.db.checkpoint import Checkpointer
from hub.db.writer import Writer


def make_engine(url: str, *, immediate: bool = False) -> Engine:
    """Create an engine tuned for the dialect.

    immediate (SQLite): transactions start with BEGIN IMMEDIATE, taking the write lock up
    front, for the writer (hub.db.writer); a deferred transaction that reads first and then
    writes can fail outright when another connection committed in between.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            # One connection per worker thread at most (anyio's pool has 40 threads).
            pool_size=2 if immediate else 20,
            max_overflow=0 if immediate else 30,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # A serving hub checkpoints in the background (hub.db.checkpoint); a commit only
            # checkpoints as a backstop, past 16 MiB of log (80 MiB for the writer, whose
            # commits sit on the call path and would pay the checkpoint's fsync).
            cur.execute(f"PRAGMA wal_autocheckpoint={20000 if immediate else 4000}")
            cur.close()
            if immediate:
                dbapi_conn.isolation_level = None  # the driver must not BEGIN on its own

        if immediate:

            @event.listens_for(engine, "begin")
            def _begin_immediate(conn):  # type: ignore[no-untyped-def]
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # hide_parameters: SQL errors must never echo bound values (they may be ciphertext or hints).
    return create_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
    )


class Database:
    """Holds the engine and hands out sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # The call path's writes go through one writer (hub.db.writer); on SQLite it has its
        # own engine, whose transactions take the write lock as they begin.
        sqlite = url.startswith("sqlite")
        self._write_engine = make_engine(url, immediate=True) if sqlite else self.engine
        self.writer = Writer(self._write_engine, inline=sqlite)
        self.checkpointer = Checkpointer(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        """Finish queued writes, then close pooled connections."""
        self.checkpointer.stop()
        self.writer.close()
        if self._write_engine is not self.engine:
            self._write_engine.dispose()
        self.engine.dispose()
