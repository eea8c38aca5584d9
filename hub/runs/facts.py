"""What other parts of the call path ask of the runs table: a key's holder, the policy's facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from hub.db.base import table_of
from hub.runs.models import Run

_runs = table_of(Run)
# Read on every call that carries an idempotency key: a prebuilt statement.
_HELD = select(_runs.c.id, _runs.c.args_hash, _runs.c.status, _runs.c.error_kind).where(
    _runs.c.tenant_id == bindparam("tenant_id"), _runs.c.idempotency_key == bindparam("key")
)


def held_by_key(s: Session, tenant_id: str, key: str | None) -> Row[Any, Any, Any, Any] | None:
    """(id, args_hash, status, error_kind) of the run holding an idempotency key, if any."""
    if not key:
        return None
    return s.connection().execute(_HELD, {"tenant_id": tenant_id, "key": key}).first()


class RunsTableFacts:
    """The permission gate's RunFacts (hub.permissions.gate), answered from the runs table."""

    def charged_recently(
        self, s: Session, tenant_id: str, tools: list[str], field: str, value: str, since: datetime
    ) -> bool:
        """Whether one of `tools` succeeded for this tenant since `since` with result[field]."""
        q = select(Run.result).where(
            Run.tenant_id == tenant_id,
            Run.tool.in_(tools),
            Run.status == "succeeded",
            Run.finished_at >= since,
        )
        return any(isinstance(r, dict) and r.get(field) == value for r in s.scalars(q))

    def uses_of_connection(self, s: Session, connection_id: str) -> int:
        """How many runs went through a connection (the hub's own, Save & Test and alert
        emails, do not count: they are not anyone's use of it)."""
        q = (
            select(func.count())
            .select_from(Run)
            .where(Run.connection_id == connection_id, ~Run.caller.startswith("hub:"))
        )
        return int(s.scalar(q) or 0)


FACTS = RunsTableFacts()
