"""The complete schema: every domain's models, for Alembic and the migration tests.

This and the migrations are the only places outside a domain allowed to import its models
(an import-linter contract in pyproject.toml)."""

from __future__ import annotations

from sqlalchemy import MetaData

import hub.accounts.models
import hub.audit.models
import hub.connections.models
import hub.federation.models
import hub.n8n.models
import hub.permissions.models
import hub.registry.models
import hub.runs.models
import hub.webhooks.models
import vault.models
from hub.db.base import Base


def all_metadata() -> list[MetaData]:
    """The hub's metadata and the vault's."""
    _ = (
        hub.accounts.models,
        hub.audit.models,
        hub.connections.models,
        hub.federation.models,
        hub.n8n.models,
        hub.permissions.models,
        hub.registry.models,
        hub.runs.models,
        hub.webhooks.models,
    )
    return [Base.metadata, vault.models.metadata]
