"""Moving between workflow versions: pull an editor change into a file, roll a binding back.

* :func:`pull` turns n8n's copy of a deployed version (changed in the editor, say) into the
  next version's file, which deploy then publishes and promotes like any other.
* :func:`rollback` points the registry binding(s) at an earlier deployed version that n8n
  still publishes; deploy keeps older versions published, so this is only a binding move.

Nothing here prints; both return what they did (the CLI renders it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from hub.core.errors import HubError
from hub.n8n.deployments import client_for, deployment, deployments, is_published
from hub.n8n.instance import HubParts
from hub.n8n.workflows import WorkflowRef, default_folder, discover, dumps, to_export
from hub.registry import service as registry

# deploy's logger: operators follow one stream for deploy, pull and rollback.
log = logging.getLogger("hub.n8n.deploy")


@dataclass
class RollbackResult:
    """Where a rollback moved the binding(s) of one workflow from and to."""

    integration: str
    tool: str
    previous: int | None
    live_version: int
    bindings: list[str]  # the tools whose binding now routes to live_version


def pull(
    rt: HubParts,
    integration: str,
    tool: str,
    from_version: int | None = None,
    folder: Path | None = None,
) -> Path:
    """Write n8n's current copy of a deployed version (default: the live one) as the next
    version's file, ``<tool>.v<N+1>.json`` where N is the highest version known (file or
    deployment). Refuses to overwrite an existing file. Returns the new file's path."""
    folder = Path(folder) if folder else default_folder(rt.settings)
    key = f"{integration}/{tool}"
    with rt.db.session() as s:
        deployed = deployments(s, integration, tool)
        if from_version is None:
            lives = [
                b.live_version for b in registry.list_bindings(s, key) if b.live_version is not None
            ]
            from_version = max(lives) if lives else (deployed[-1].version if deployed else None)
        if from_version is None:
            raise HubError(
                "not_found",
                f"{key} has never been deployed: there is no n8n copy to pull. "
                "Run `hub workflows deploy` first.",
            )
        row = next((d for d in deployed if d.version == from_version), None)
        if row is None:
            known = ", ".join(f"v{d.version}" for d in deployed) or "none"
            raise HubError(
                "not_found",
                f"{key} v{from_version} is not deployed (deployed: {known}).",
            )
        n8n_id = row.n8n_id
        highest = max([d.version for d in deployed] + [from_version])
    existing = [f.ref.version for f in discover(folder) if f.ref.key == key]
    new_ref = WorkflowRef(integration, tool, max([highest, *existing]) + 1)
    target = folder / integration / new_ref.file_name
    if target.exists():
        raise HubError("conflict", f"{target} already exists; not overwriting it.")
    with client_for(rt) as client:
        remote = client.find_workflow(n8n_id)
    if remote is None:
        raise HubError(
            "not_found",
            f"n8n no longer has {key} v{from_version} (id {n8n_id}); redeploy it first.",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dumps(to_export(remote, new_ref)), encoding="utf-8")
    log.info(
        "workflow pulled",
        extra={"workflow": key, "from": from_version, "to": new_ref.version, "file": str(target)},
    )
    return target


def rollback(rt: HubParts, integration: str, tool: str, to_version: int) -> RollbackResult:
    """Point the registry binding(s) of ``integration/tool`` at an earlier deployed and
    published version. Not audited per tenant (the audit log is per tenant; this is an
    operator action on the catalog): it is logged."""
    key = f"{integration}/{tool}"
    with rt.db.session() as s:
        if not registry.list_bindings(s, key):
            raise HubError("not_found", f"no registry binding uses the workflow {key}.")
        row = deployment(s, WorkflowRef(integration, tool, to_version))
        if row is None or not row.active:
            known = ", ".join(f"v{d.version}" for d in deployments(s, integration, tool))
            raise HubError(
                "not_found",
                f"{key} v{to_version} is not deployed (deployed: {known or 'none'}); "
                "deploy it before rolling back to it.",
            )
        n8n_id = row.n8n_id
    with client_for(rt) as client:
        remote = client.find_workflow(n8n_id)
    if remote is None or not is_published(remote):
        raise HubError(
            "conflict",
            f"{key} v{to_version} is not published in n8n (id {n8n_id}"
            f"{', missing' if remote is None else ', inactive'}); redeploy it first.",
        )
    with rt.db.session() as s:
        previous = next((b.live_version for b in registry.list_bindings(s, key)), None)
        registry.set_live_version(s, key, to_version)
        names = [b.tool_name for b in registry.list_bindings(s, key)]
    log.warning(
        "workflow rollback",
        extra={"workflow": key, "from": previous, "to": to_version, "tools": names},
    )
    return RollbackResult(integration, tool, previous, to_version, names)
