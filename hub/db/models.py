"""Imports every model module so metadata is complete (for Alembic and create_all)."""

from __future__ import annotations

from sqlalchemy import MetaData

import hub.accounts.models
import hub.audit.models
import hub.connections.models
import hub.n8n.models
import hub.permissions.models
import hub.registry.models
import hub.runs.models
import hub.web.models
import vault.models
from hub.db.base import Base


def all_metadata() -> list[MetaData]:
    """The hub's metadata and the vault's."""
    _ = (
        hub.accounts.models,
        hub.audit.models,
        hub.connections.models,
        hub.n8n.models,
        hub.permissions.models,
        hub.registry.models,
        hub.runs.models,
        hub.web.models,
    )
    return [Base.metadata, vault.models.metadata]
