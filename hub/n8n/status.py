"""Workflow status: each registry binding with its files, deployments and drift in n8n.

Nothing here prints or changes anything; :func:`status` returns what it found (the CLI
renders it). Drift means n8n's copy of a deployed version no longer has the checksum that
was deployed (an edit in the n8n editor); a changed file is the other direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.core.errors import HubError
from hub.n8n.client import N8nClient, N8nError
from hub.n8n.deployments import client_for, is_published, matches
from hub.n8n.instance import HubParts
from hub.n8n.models import WorkflowDeployment
from hub.n8n.workflows import WorkflowRef, checksum, default_folder, discover
from hub.registry import service as registry


@dataclass
class VersionStatus:
    """One deployed version as n8n has it now."""

    version: int
    n8n_id: str
    checksum: str
    active: bool  # recorded as published
    in_n8n: bool | None = None  # None: n8n was not asked (unreachable)
    published: bool | None = None
    drift: bool | None = None  # n8n's copy differs from what was deployed


@dataclass
class BindingStatus:
    """A registry binding (tool -> integration workflow) and its workflow versions."""

    tool: str
    integration: str
    workflow: str
    live_version: int | None
    deployed: list[int] = field(default_factory=list)
    files: list[int] = field(default_factory=list)
    drift: list[int] = field(default_factory=list)
    file_changed: list[int] = field(default_factory=list)
    not_deployed: list[int] = field(default_factory=list)
    missing_in_n8n: list[int] = field(default_factory=list)
    unpublished: list[int] = field(default_factory=list)
    versions: list[VersionStatus] = field(default_factory=list)
    n8n_error: str | None = None

    @property
    def live_drifted(self) -> bool:
        """Whether the version the binding routes to was changed in the n8n editor."""
        return self.live_version is not None and self.live_version in self.drift

    @property
    def healthy(self) -> bool:
        """Nothing to act on: no drift, nothing missing, a live version when there are files."""
        return not (
            self.drift
            or self.file_changed
            or self.not_deployed
            or self.missing_in_n8n
            or self.unpublished
            or self.n8n_error
            or (self.files and self.live_version is None)
        )


# One recorded deployment: (integration, tool, version, n8n id, checksum, active).
_Row = tuple[str, str, int, str, str, bool]


def status(
    rt: HubParts, *, folder: Path | None = None, check_n8n: bool = True
) -> list[BindingStatus]:
    """Every registry binding with its files, deployments and drift (n8n asked once per
    deployed version; when it cannot be reached, ``n8n_error`` says so)."""
    folder = Path(folder) if folder else default_folder(rt.settings)
    files = discover(folder)
    file_sums = {f.ref: checksum(f.data) for f in files if f.data is not None}
    with rt.db.session() as s:
        bindings = [
            (b.tool_name, b.integration_slug, b.workflow, b.live_version)
            for b in registry.list_bindings(s)
        ]
        rows: list[_Row] = [
            (d.integration, d.tool, d.version, d.n8n_id, d.checksum, d.active)
            for d in s.scalars(select(WorkflowDeployment).order_by(WorkflowDeployment.version))
        ]
    client: N8nClient | None = None
    n8n_error: str | None = None
    remotes: dict[str, dict[str, Any] | None] = {}
    if check_n8n and rows:
        try:
            client = client_for(rt)
        except HubError as exc:
            n8n_error = exc.message
    try:
        out: list[BindingStatus] = []
        for tool, integration, workflow, live in bindings:
            wi, _, wt = workflow.partition("/")
            st = BindingStatus(tool, integration, workflow, live, n8n_error=n8n_error)
            st.files = sorted(f.ref.version for f in files if f.ref.key == workflow)
            for i_, t_, version, n8n_id, csum, active in rows:
                if (i_, t_) != (wi, wt):
                    continue
                st.deployed.append(version)
                vs = VersionStatus(version, n8n_id, csum, active)
                ref = WorkflowRef(wi, wt, version)
                if ref in file_sums and file_sums[ref] != csum:
                    st.file_changed.append(version)
                if client is not None and n8n_error is None:
                    if n8n_id not in remotes:
                        try:
                            remotes[n8n_id] = client.find_workflow(n8n_id)
                        except N8nError as exc:
                            n8n_error = st.n8n_error = str(exc)
                    remote = remotes.get(n8n_id)
                    if n8n_error is None:
                        vs.in_n8n = remote is not None
                        if remote is None:
                            st.missing_in_n8n.append(version)
                        else:
                            vs.published = is_published(remote)
                            vs.drift = not matches(csum, remote)
                            if vs.drift:
                                st.drift.append(version)
                            if not vs.published:
                                st.unpublished.append(version)
                st.versions.append(vs)
            st.not_deployed = [v for v in st.files if v not in st.deployed]
            out.append(st)
        return out
    finally:
        if client is not None:
            client.close()
