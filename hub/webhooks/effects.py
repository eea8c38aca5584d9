"""The hub's own handling of an event, before it goes to the provider's handler workflow.

Each effect is keyed by provider and runs at delivery time (so it is retried, and replayed,
like the delivery itself); it returns facts to keep on the event (`result`) or raises NotYet
when it cannot finish now (the vendor could not be read back, say) so the event is retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hub.db.engine import Database
from hub.webhooks.effects_base import NotYet
from hub.webhooks.esignature import docusign_effect, dropbox_sign_effect
from hub.webhooks.events import Claimed
from hub.webhooks.payments import stripe_effect
from vault import Vault

__all__ = ["EFFECTS", "READS_BACK", "NotYet", "apply"]

Effect = Callable[[Database, Vault, Claimed], Awaitable[dict[str, Any] | None]]

#: provider -> effect; providers without one are only stored and forwarded.
EFFECTS: dict[str, Effect] = {
    "stripe": stripe_effect,
    "dropbox_sign": dropbox_sign_effect,
    "docusign": docusign_effect,
}

#: Providers whose effect reads the object back from the vendor (a network round trip): the
#: worker runs their events concurrently; the others' effects are local reads and writes.
READS_BACK = frozenset({"dropbox_sign", "docusign"})


async def apply(db: Database, vault: Vault, ev: Claimed) -> dict[str, Any] | None:
    """Run the provider's effect for one event (None when it has none)."""
    effect = EFFECTS.get(ev.provider)
    return await effect(db, vault, ev) if effect is not None else None
