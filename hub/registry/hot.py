"""An in-memory view of tools and their bindings for the call path.

Every tool call needs its tool, schema and bindings; reading them from the database each time
cost about a millisecond. The view is rebuilt when the registry's revision changes, checked
at most once per TTL, so a deploy or rollback is seen within that time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.core import caches
from hub.registry.models import Tool, ToolProvider
from hub.registry.views import registry_revision

TTL_S = 1.0


@dataclass(frozen=True)
class Binding:
    """A tool's provider: which integration, which workflow, which version is live."""

    integration_slug: str
    workflow: str
    is_default: bool
    live_version: int | None


@dataclass(frozen=True)
class ToolView:
    """What the call path needs of a tool."""

    name: str
    domain: str
    permission: str
    status: str
    input_schema: dict[str, Any]
    definition: dict[str, Any]
    bindings: tuple[Binding, ...]


@dataclass
class _Entry:
    revision: str
    checked: float
    tools: dict[str, ToolView]


# By database URL: the writer's engine and the request engine share one snapshot.
_views: dict[Any, _Entry] = {}
_lock = threading.Lock()
caches.register(_views.clear)


def _key(s: Session) -> Any:
    bind = s.get_bind()
    return (bind if isinstance(bind, Engine) else bind.engine).url


def _build(s: Session, revision: str) -> dict[str, ToolView]:
    bindings: dict[str, list[Binding]] = {}
    q = select(ToolProvider).order_by(ToolProvider.is_default.desc(), ToolProvider.integration_slug)
    for p in s.scalars(q):
        bindings.setdefault(p.tool_name, []).append(
            Binding(p.integration_slug, p.workflow, p.is_default, p.live_version)
        )
    return {
        t.name: ToolView(
            t.name,
            t.domain,
            t.permission,
            t.status,
            t.input_schema,
            t.definition or {},
            tuple(bindings.get(t.name, ())),
        )
        for t in s.scalars(select(Tool))
    }


def tools(s: Session) -> dict[str, ToolView]:
    """Every tool by name, from a snapshot at most TTL_S old."""
    key = _key(s)
    now = time.monotonic()
    entry = _views.get(key)
    if entry is not None and now - entry.checked < TTL_S:
        return entry.tools
    revision = registry_revision(s)
    if entry is not None and entry.revision == revision:
        entry.checked = now
        return entry.tools
    built = _build(s, revision)
    with _lock:
        _views[key] = _Entry(revision, now, built)
    return built


def peek(engine: Engine) -> dict[str, ToolView] | None:
    """The last snapshot for this engine without touching the database (may be TTL_S old)."""
    entry = _views.get(engine.url)
    return entry.tools if entry is not None else None
