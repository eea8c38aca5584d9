"""Process-wide caches register here, so that all of them can be dropped at once.

Several modules keep small caches at module level (token lookups, registry snapshots,
validators, the policy file). Each registers its clear function; tests call clear_all()
between tests, so no test sees what another one left behind.
"""

from __future__ import annotations

from collections.abc import Callable

_clearers: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> None:
    """Add a cache's clear function (call once, at import)."""
    _clearers.append(clear)


def clear_all() -> None:
    """Empty every registered cache."""
    for clear in _clearers:
        clear()
