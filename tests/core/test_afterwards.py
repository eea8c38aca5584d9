"""Work after the answer (hub.core.afterwards): held in a window until the edge runs it, at
once without one or once the window closed (a task that inherited it), and a failing job
neither stops the next nor escapes."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.core import afterwards


def test_jobs_wait_for_the_edge_inside_a_window_and_run_at_once_outside() -> None:
    done: list[str] = []

    def job(name: str) -> afterwards.Job:
        async def run() -> None:
            done.append(name)

        return run

    async def body() -> None:
        await afterwards.later(job("no window"))
        assert done == ["no window"]
        with afterwards.window() as w:
            await afterwards.later(job("a"))
            await afterwards.later(job("b"))
            assert done == ["no window"]  # held until the edge has sent its answer
            await afterwards.run(w)
        assert done == ["no window", "a", "b"]

    asyncio.run(body())


def test_a_task_that_outlives_its_window_runs_its_jobs_at_once() -> None:
    done: list[str] = []
    go = asyncio.Event

    async def body() -> None:
        start = go()

        async def session_task() -> None:  # like an SDK session's task, begun in a request
            await start.wait()

            async def job() -> None:
                done.append("late")

            await afterwards.later(job)

        with afterwards.window() as w:
            task = asyncio.create_task(session_task())
            await asyncio.sleep(0)
            await afterwards.run(w)
        start.set()
        await task
        assert done == ["late"]

    asyncio.run(body())


def test_a_failing_job_is_logged_and_the_next_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done: list[str] = []

    async def broken() -> None:
        raise RuntimeError("the database went away")

    async def fine() -> None:
        done.append("fine")

    async def body() -> None:
        with afterwards.window() as w:
            await afterwards.later(broken)
            await afterwards.later(fine)
            await afterwards.run(w)

    with caplog.at_level(logging.ERROR, logger="hub.afterwards"):
        asyncio.run(body())
    assert done == ["fine"]
    assert any("after an answer failed" in r.getMessage() for r in caplog.records)
