"""What an effect raises when it cannot finish now (hub.webhooks.effects)."""

from __future__ import annotations


class NotYet(Exception):
    """The effect cannot complete now; try the event again later."""
