"""Refused webhook requests: counted per endpoint, audited and logged once a minute at most.

A scan or a misconfigured vendor can send thousands of bad requests; each one must not cost
an audit row or a log line. The door only increments a counter in memory; `flush()` (the
delivery worker calls it every few seconds) turns each endpoint's counts into one audit
row per endpoint per minute and adds them to the endpoint's refusal total.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.orm import Session

from hub.audit.service import record
from hub.db.base import utcnow
from hub.webhooks.models import WebhookEndpoint

log = logging.getLogger("hub.webhooks")
WINDOW_S = 60.0


@dataclass
class _Tally:
    tenant_id: str
    provider: str
    reasons: Counter[str] = field(default_factory=Counter)


class Refusals:
    """In-memory refusal counts, per endpoint, until the next flush."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, _Tally] = {}
        self._last_flush: dict[str, float] = {}
        self.unknown = 0  # requests to endpoint ids that do not exist
        self._unknown_logged = 0.0

    def note(self, endpoint_id: str, tenant_id: str, provider: str, reason: str) -> None:
        """Count one refusal of a known endpoint."""
        with self._lock:
            tally = self._pending.setdefault(endpoint_id, _Tally(tenant_id, provider))
            tally.reasons[reason] += 1

    def note_unknown(self) -> None:
        """Count a request to an endpoint that does not exist (logged once a minute)."""
        now = time.monotonic()
        with self._lock:
            self.unknown += 1
            if now - self._unknown_logged < WINDOW_S:
                return
            self._unknown_logged, n, self.unknown = now, self.unknown, 0
        log.warning("webhook requests to unknown endpoints", extra={"count": n})

    def pending(self) -> int:
        """Refusals counted but not yet written."""
        with self._lock:
            return sum(sum(t.reasons.values()) for t in self._pending.values())

    def flush(self, s: Session, *, force: bool = False) -> int:
        """Write each endpoint's counts (at most once per endpoint per minute) -> rows written."""
        now = time.monotonic()
        with self._lock:
            ready = {
                eid: t
                for eid, t in self._pending.items()
                if force or now - self._last_flush.get(eid, -WINDOW_S) >= WINDOW_S
            }
            for eid in ready:
                del self._pending[eid]
                self._last_flush[eid] = now
        for eid, t in ready.items():
            n = sum(t.reasons.values())
            top = t.reasons.most_common(1)[0][0]
            s.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == eid)
                .values(
                    refused_count=WebhookEndpoint.refused_count + n,
                    last_refused_at=utcnow(),
                    last_refusal=top,
                )
            )
            record(
                s,
                t.tenant_id,
                "webhooks",
                "webhook.refused",
                target=eid,
                integration=t.provider,
                success=False,
                error_message=top,
                details={"count": n, "reasons": dict(t.reasons)},
            )
            log.warning(
                "webhook requests refused",
                extra={"endpoint": eid, "count": n, "reason": top},
            )
        return len(ready)
