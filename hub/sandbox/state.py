"""What the sandbox holds between requests: the recordings and the faults still to inject.

The proxy's thread writes to it and the test's thread reads it (and queues faults), so every
access takes the one lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from hub.sandbox.faults import Fault
from hub.sandbox.records import RecordedRequest

MAX_RECORDS = 10_000


class SandboxState:
    """Thread-safe recordings and faults shared by the proxy thread and the test thread."""

    def __init__(self, upstreams: dict[str, str]) -> None:
        self.upstreams = dict(upstreams)
        self._lock = threading.Lock()
        self._records: deque[RecordedRequest] = deque(maxlen=MAX_RECORDS)
        self._faults: dict[str, list[Fault]] = {}
        self._next_id = 1
        # OAuth vendors answer only requests carrying a current access token: vendor ->
        # a check of the bearer token (introspection at the sandbox's authorization server).
        self.token_checks: dict[str, Callable[[str], bool]] = {}

    def record(self, rec: RecordedRequest) -> RecordedRequest:
        """Keep ``rec`` under the next id (past MAX_RECORDS the oldest are dropped)."""
        with self._lock:
            rec.id = self._next_id
            self._next_id += 1
            self._records.append(rec)
        return rec

    def requests(self, vendor: str | None = None) -> list[RecordedRequest]:
        """The recordings, oldest first, of one vendor or all."""
        with self._lock:
            return [r for r in self._records if vendor is None or r.vendor == vendor]

    def clear(self) -> None:
        """Forget the recordings."""
        with self._lock:
            self._records.clear()

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; ValueError for an unknown vendor or a nonsensical status."""
        if fault.vendor not in self.upstreams:
            raise ValueError(
                f"unknown sandbox vendor {fault.vendor!r}; known: {', '.join(self.upstreams)}"
            )
        if not (100 <= fault.status <= 599 or (fault.status == 0 and fault.delay_s > 0)):
            raise ValueError(
                f"status must be an HTTP status (100-599), or 0 with delay_s, not {fault.status}"
            )
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.setdefault(fault.vendor, []).append(fault)

    def take_fault(self, vendor: str, method: str, path: str) -> Fault | None:
        """The first queued fault this request matches, used up by one."""
        with self._lock:
            queue = self._faults.get(vendor) or []
            for fault in queue:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.remove(fault)
                    return fault
        return None

    def faults(self) -> list[Fault]:
        """The faults still queued."""
        with self._lock:
            return [f for q in self._faults.values() for f in q]

    def clear_faults(self) -> None:
        """Drop the queued faults."""
        with self._lock:
            self._faults.clear()
