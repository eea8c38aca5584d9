"""What the hub recorded of each deployment, and how n8n's copy of it compares.

Shared by deploy, status, pull and rollback: the ``WorkflowDeployment`` lookups, a client for
the configured n8n, and the checksums of n8n's draft and published copies.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.n8n.client import N8nClient
from hub.n8n.instance import HubParts, api_key
from hub.n8n.models import WorkflowDeployment
from hub.n8n.workflows import WorkflowRef, checksum


def client_for(rt: HubParts) -> N8nClient:
    """A client for the configured n8n's public API (HubError n8n_unavailable otherwise)."""
    with rt.db.session() as s:
        url, key = api_key(s, rt.vault, rt.settings)
    return N8nClient(url, key)


def deployment(s: Session, ref: WorkflowRef) -> WorkflowDeployment | None:
    """The recorded deployment of one workflow version, if any."""
    return s.scalar(
        select(WorkflowDeployment).where(
            WorkflowDeployment.integration == ref.integration,
            WorkflowDeployment.tool == ref.tool,
            WorkflowDeployment.version == ref.version,
        )
    )


def deployments(s: Session, integration: str, tool: str) -> list[WorkflowDeployment]:
    """Every recorded deployment of one tool's workflow, versions ascending."""
    return list(
        s.scalars(
            select(WorkflowDeployment)
            .where(WorkflowDeployment.integration == integration, WorkflowDeployment.tool == tool)
            .order_by(WorkflowDeployment.version)
        )
    )


def remote_checksums(remote: dict[str, Any]) -> list[str]:
    """Checksums of n8n's draft and of its published version (when it has one)."""
    out = [checksum(remote)]
    active = remote.get("activeVersion")
    if isinstance(active, dict) and isinstance(active.get("nodes"), list):
        # n8n's published version holds nodes and connections; settings are the workflow's.
        out.append(checksum({**active, "settings": remote.get("settings")}))
    return out


def is_published(remote: dict[str, Any]) -> bool:
    """Whether n8n serves this workflow's webhooks (it has an active version)."""
    return bool(remote.get("active")) or bool(remote.get("activeVersionId"))


def matches(want: str, remote: dict[str, Any]) -> bool:
    """Whether both n8n's draft and its published copy have checksum ``want``."""
    return all(c == want for c in remote_checksums(remote))
