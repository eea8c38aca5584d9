"""What effects share (hub.webhooks.effects): NotYet, and the batch memo."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any


class NotYet(Exception):
    """The effect cannot complete now; try the event again later."""


#: Within one claimed batch of events, answers that depend on the tenant and not on the event
#: (does it have any run an event could concern?), asked once per batch instead of per event.
#: None outside a batch (a replay): then every event asks.
batch_memo: ContextVar[dict[Any, Any] | None] = ContextVar("batch_memo", default=None)
