"""Readable names for what records refer to by id: actors, tools and integrations."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.accounts import service as accounts
from hub.core.errors import HubError
from hub.registry import service as registry


class Lookups:
    """Per-request caches of registry names."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self._tools: dict[str, tuple[str, list[str]]] = {}
        self._integrations: dict[str, str] = {}

    def tool(self, name: str) -> tuple[str, list[str]]:
        """(title, secret_fields) of a tool; hub-native actions get a readable name."""
        if name not in self._tools:
            try:
                t = registry.get_tool(self.s, name)
                self._tools[name] = (t.title, list((t.definition or {}).get("secret_fields", [])))
            except HubError:
                self._tools[name] = (name.replace("_", " ").capitalize(), [])
        return self._tools[name]

    def integration(self, slug: str | None) -> str | None:
        """An integration's display name (its slug when the catalog no longer has it)."""
        if not slug:
            return None
        if slug not in self._integrations:
            try:
                self._integrations[slug] = registry.get_integration(self.s, slug).name
            except HubError:
                self._integrations[slug] = slug
        return self._integrations[slug]


def actor_names(s: Session, tenant_id: str, actors: set[str]) -> dict[str, str]:
    """Readable names for audit actors of one tenant: users by email, tokens by name."""
    ids = [a.removeprefix("user:") for a in actors if a.startswith("user:")]
    names = {f"user:{uid}": email for uid, email in accounts.emails_of(s, tenant_id, ids).items()}
    if any(a.startswith("token:") for a in actors):
        for tok in accounts.list_tokens(s, tenant_id):
            names[f"token:{tok.id}"] = f"{tok.name or tok.kind} ({tok.kind} token)"
    return names
