"""SIGTERM stops a hub command the way Ctrl-C does: every child it started is stopped first.

Why this is needed: Python's default SIGTERM action ends the process at once, without running
``finally`` blocks or ``atexit`` hooks, so the n8n and Prism process groups a command started
lived on, holding their ports. uvicorn catches SIGTERM while it serves, but re-raises it once
it has shut down, which then hit that default action. docker, systemd and supervisors all send
SIGTERM, so it must unwind exactly like SIGINT: the handler here raises KeyboardInterrupt in
the main thread, and the command's ``ExitStack`` stops its children.

After the first signal, further SIGINT/SIGTERM are ignored so that an impatient second signal
cannot interrupt the cleanup half-way (which would leave children behind).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stop(signum: int, frame: FrameType | None) -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)  # the cleanup runs to its end
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


def install_stop_handlers() -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt in the main thread (once)."""
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, _stop)


@contextmanager
def orderly_stop() -> Iterator[None]:
    """Within the block, SIGTERM unwinds like Ctrl-C; the old handlers are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    install_stop_handlers()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
