"""Secret values this process handed to a workflow at the edge, kept until its run finishes.

finish() scrubs the workflow's answer of the secrets the workflow held. When the grant was
redeemed here, the values are already in memory and the vault need not be read again; an
entry lives until its run finishes, or at most a few minutes when a run ends elsewhere.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

KEEP_S = 180.0


@dataclass(frozen=True)
class Handout:
    """What a workflow received for a run: its secret values and the plain identity fields
    they pair with in basic auth (an account SID), both needed to scrub echoes of them."""

    secrets: list[str]
    identities: list[str]


class Handouts:
    """run id -> the secret values given out for it, with an upper bound on their lifetime."""

    def __init__(self, keep_s: float = KEEP_S) -> None:
        self.keep_s = keep_s
        self._items: dict[str, tuple[float, Handout]] = {}
        self._lock = threading.Lock()

    def put(self, run_id: str, values: Handout) -> None:
        """Remember what was handed out for a run (dropping entries past their lifetime)."""
        now = time.monotonic()
        with self._lock:
            if len(self._items) > 256:
                stale = [k for k, (t, _) in self._items.items() if now - t > self.keep_s]
                for k in stale:
                    del self._items[k]
            self._items[run_id] = (now, values)

    def pop(self, run_id: str) -> Handout | None:
        """Forget and return a run's values; None when nothing was handed out here."""
        with self._lock:
            item = self._items.pop(run_id, None)
        return item[1] if item is not None else None

    def peek(self, run_id: str) -> Handout | None:
        """A run's values, kept (a step recorded mid-run is scrubbed with them)."""
        with self._lock:
            item = self._items.get(run_id)
        return item[1] if item is not None else None
