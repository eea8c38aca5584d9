"""Process-wide caches register here, so that all of them can be dropped at once.

Several modules keep small caches at module level (token lookups, registry snapshots,
validators, the policy file). Each registers its clear function; tests call clear_all()
between tests, so no test sees what another one left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_clearers: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> None:
    """Add a cache's clear function (call once, at import)."""
    _clearers.append(clear)


def clear_all() -> None:
    """Empty every registered cache."""
    for clear in _clearers:
        clear()


class ByObject(Generic[T]):
    """Values built from objects that come back as the same object call after call (a
    registry's schema dict, a pinned definition), found by identity: serialising the object
    to find its value costs more than the work the value saves. Holding the object keeps
    its id from being reused by another one."""

    def __init__(self, build: Callable[[Any], T], limit: int = 1024) -> None:
        self._build = build
        self._limit = limit
        self._hits: dict[int, tuple[Any, T]] = {}
        register(self._hits.clear)

    def get(self, obj: Any) -> T:
        """The value for this object, built on first sight."""
        hit = self._hits.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        if len(self._hits) > self._limit:
            self._hits.clear()
        value = self._build(obj)
        self._hits[id(obj)] = (obj, value)
        return value
