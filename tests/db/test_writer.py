"""The call path's database writer: batches, failures inside a batch, the inline path."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from hub.db.engine import Database
from hub.db.writer import Writer
from tests.conftest import fresh_database_url

NOTES = sa.table("notes", sa.column("id", sa.Integer), sa.column("body", sa.String))


def notes_database(url: str) -> Database:
    database = Database(url)
    with database.engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(40))")
    return database


@pytest.fixture
def db(backend: str, tmp_path: Path, pg_server: str | None):
    url, drop = fresh_database_url(backend, tmp_path, pg_server)
    database = notes_database(url)
    yield database
    database.dispose()
    drop()


@pytest.fixture
def sqlite_db(tmp_path: Path):
    database = notes_database(f"sqlite:///{tmp_path / 'notes.db'}")
    yield database
    database.dispose()


def insert(i: int, fail: bool = False):
    def job(s: Session) -> int:
        s.connection().execute(NOTES.insert(), {"id": i, "body": f"note {i}"})
        if fail:
            raise ValueError(f"job {i} refuses")
        return i

    return job


def stored(db: Database) -> list[int]:
    with db.engine.connect() as c:
        return sorted(c.execute(sa.select(NOTES.c.id)).scalars())


def test_a_failing_job_in_a_batch_costs_the_others_nothing(db: Database) -> None:
    w = Writer(db.engine)
    futures: list[Future] = []
    # Queue everything before the thread starts, so it all lands in one batch.
    for i in range(1, 7):
        f: Future = Future()
        w._q.put((insert(i, fail=i == 3), f))
        futures.append(f)
    w._ensure_started()
    results = []
    for f in futures:
        try:
            results.append(f.result(10))
        except ValueError as exc:
            results.append(str(exc))
    w.close()
    assert results == [1, 2, "job 3 refuses", 4, 5, 6]
    assert stored(db) == [1, 2, 4, 5, 6]  # job 3's insert was rolled back, no one else's


def test_a_batch_shares_one_commit(db: Database) -> None:
    w = Writer(db.engine)
    futures = []
    for i in range(1, 11):
        f: Future = Future()
        w._q.put((insert(i), f))
        futures.append(f)
    w._ensure_started()
    assert [f.result(10) for f in futures] == list(range(1, 11))
    w.close()
    assert (w.batches, w.jobs) == (1, 10)
    assert stored(db) == list(range(1, 11))


def test_async_callers_get_their_own_results_and_errors(db: Database) -> None:
    async def main() -> list:
        return await asyncio.gather(
            *(db.writer.run(insert(i, fail=i % 4 == 0)) for i in range(1, 13)),
            return_exceptions=True,
        )

    got = asyncio.run(main())
    assert [g if isinstance(g, int) else "refused" for g in got] == [
        1, 2, 3, "refused", 5, 6, 7, "refused", 9, 10, 11, "refused"
    ]  # fmt: skip
    assert stored(db) == [1, 2, 3, 5, 6, 7, 9, 10, 11]


def test_sqlite_runs_an_idle_writers_job_inline_and_never_waits_on_the_loop(
    sqlite_db: Database,
) -> None:
    db = sqlite_db
    w = db.writer
    path = db.engine.url.database
    assert path is not None

    async def main() -> tuple[int, int, float]:
        assert await w.run(insert(1)) == 1
        inline_after_first = w.inline_jobs
        # Another connection takes the write lock and holds it for 0.4 s.
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.4, lambda: other.execute("COMMIT"))
        release.start()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        t = asyncio.create_task(ticker())
        start = time.monotonic()
        assert await w.run(insert(2)) == 2  # waits for the lock on the thread, not the loop
        waited = time.monotonic() - start
        t.cancel()
        release.join()
        other.close()
        return inline_after_first, ticks, waited

    inline_after_first, ticks, waited = asyncio.run(main())
    assert inline_after_first == 1 and w.inline_jobs == 1 and w.jobs == 1
    assert waited >= 0.35
    assert ticks >= 10  # the event loop kept running while the write waited
    assert stored(db) == [1, 2]
