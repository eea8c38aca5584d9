"""Connection usage counters, summed in memory and written at most once per FLUSH_S.

Every tool call used to UPDATE its connection's row (times used, last use) in the call's own
transaction: one more statement per call, and one hot row every caller of a busy integration
writes. Usage is a statistic, not a record (the run and audit rows are the record), so it is
summed here and written with whichever call's transaction comes next after FLUSH_S, and when
the hub stops; a crash loses at most that second of counts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from hub.connections.models import Connection
from hub.db.base import table_of

FLUSH_S = 1.0

_conns = table_of(Connection)
_WRITE = (
    _conns.update()
    .where(_conns.c.id == bindparam("connection_id"))
    .values(
        times_used_by_agent=_conns.c.times_used_by_agent + bindparam("agent_uses"),
        last_used_at=bindparam("used_at"),
    )
)
_WRITE_AGENT = _WRITE.values(last_agent_use_at=bindparam("agent_used_at"))


@dataclass
class _Pending:
    agent_uses: int = 0
    used_at: datetime | None = None
    agent_used_at: datetime | None = None


class UsageMeter:
    """Pending usage per connection id; thread-safe."""

    def __init__(self, flush_s: float = FLUSH_S) -> None:
        self.flush_s = flush_s
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def note(self, connection_id: str, at: datetime, *, by_agent: bool) -> None:
        """Count one use of a connection."""
        with self._lock:
            p = self._pending.setdefault(connection_id, _Pending())
            p.used_at = at
            if by_agent:
                p.agent_uses += 1
                p.agent_used_at = at

    @property
    def pending(self) -> bool:
        """Whether any count is waiting to be written."""
        return bool(self._pending)

    def due(self) -> bool:
        """Whether pending counts are older than flush_s."""
        return bool(self._pending) and time.monotonic() - self._flushed >= self.flush_s

    def flush(self, s: Session) -> int:
        """Write pending counts in the session's transaction; returns the rows updated.

        The counts are taken out first; if the transaction then fails they are lost, which
        costs a statistic, never a call.
        """
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed = time.monotonic()
        if not pending:
            return 0
        db = s.connection()
        for conn_id, p in pending.items():
            params = {"connection_id": conn_id, "agent_uses": p.agent_uses, "used_at": p.used_at}
            if p.agent_used_at is not None:
                db.execute(_WRITE_AGENT, {**params, "agent_used_at": p.agent_used_at})
            else:
                db.execute(_WRITE, params)
        return len(pending)
