"""Work that can wait until the caller has its answer, run in the same task right after it.

A remote tool call's run is finished (its result, an audit row, usage counters) in a short
transaction once the remote answer is in. The agent's answer does not depend on that write,
so an edge that can hand its answer to the socket first (the MCP endpoint's direct path,
hub.mcp.direct) opens a `window()`; the call path hands the write to `later()`, and the edge
runs it right after its last send, in the same task. An edge that opens no window gets the
write done before it answers, as before.

The call path defers only a write the database writer would run inline (SQLite, one call
in flight): it is done before the task yields to any other request, so no later request of
this process can see the run unfinished. Through the writer's thread (PostgreSQL, several
calls in flight) a read after the answer could race the write, so there the run's end is
written before the answer, as before. A crash between the answer and the write leaves the
run 'sent', which the hub marks outcome_unknown when it starts, as for a crash during the
hop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger("hub.afterwards")

Job = Callable[[], Awaitable[object]]


class Window:
    """The jobs one answer's edge runs after it; open until the edge runs them."""

    __slots__ = ("jobs", "open")

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.open = True


# A task started inside a window inherits it (contexts are copied), and may outlive it (an
# SDK session's task); a closed window makes later() run its job at once.
_window: ContextVar[Window | None] = ContextVar("hub_after_answer", default=None)


@contextmanager
def window() -> Iterator[Window]:
    """Collect the jobs handed to later() in this context; the edge runs them with run()."""
    w = Window()
    token = _window.set(w)
    try:
        yield w
    finally:
        _window.reset(token)


async def later(job: Job) -> None:
    """Run the job after the answer when a window is open, else now."""
    w = _window.get()
    if w is None or not w.open:
        await job()
    else:
        w.jobs.append(job)


async def run(w: Window) -> None:
    """Close the window and run its jobs in order; a failure is logged (the answer is out)."""
    w.open = False
    for job in w.jobs:
        try:
            await job()
        except Exception:
            log.exception("work after an answer failed")
    w.jobs.clear()
