"""Deploying workflow files to n8n: lint, publish, record, promote.

Nothing here prints; :func:`deploy_all` returns what happened per file version (the CLI
renders it). Status and drift live in :mod:`hub.n8n.status`, pull and rollback in
:mod:`hub.n8n.versions`.

* :func:`deploy_all` lints every file first (a file with errors is refused, not deployed),
  makes sure n8n holds the header-auth credential every hub webhook requires (the secret
  comes from the vault; the credential is re-created if n8n lost it), then creates or updates
  and publishes one n8n workflow per file version and records a ``WorkflowDeployment``. An
  unchanged file whose n8n copy has not drifted is only verified. Older versions stay
  published: moving the registry binding back is the rollback.
* A version whose n8n copy was changed in the editor since it was deployed is **not**
  overwritten (``force=True`` does): the change would be lost. ``pull`` turns it into the
  next version's file instead.
* Promotion: a binding's ``live_version`` moves to the newest version this call created or
  updated (or, for a binding with none yet, the newest deployed one). A redeploy that
  changes nothing therefore keeps a rollback in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hub.core.errors import HubError
from hub.db.base import utcnow
from hub.n8n.client import N8nClient, N8nError
from hub.n8n.deployments import (
    client_for,
    deployment,
    deployments,
    is_published,
    matches,
)
from hub.n8n.instance import HubParts, get_instance, register_instance, secret_of
from hub.n8n.invoke import WEBHOOK_AUTH_HEADER
from hub.n8n.lint import LintProblem, errors, lint_file
from hub.n8n.models import WorkflowDeployment
from hub.n8n.workflows import (
    WEBHOOK_CREDENTIAL_NAME,
    WEBHOOK_CREDENTIAL_TYPE,
    WEBHOOK_NODE_TYPE,
    WorkflowFile,
    WorkflowRef,
    checksum,
    default_folder,
    deployable,
    discover,
)
from hub.registry import service as registry

log = logging.getLogger("hub.n8n.deploy")

ProgressFn = Callable[[int, int, str], None]

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
REFUSED, DRIFTED, FAILED = "refused", "drifted", "failed"


@dataclass
class DeployResult:
    """What deploy did with one file version."""

    integration: str
    tool: str
    version: int
    action: str  # created | updated | unchanged | refused | drifted | failed
    message: str = ""
    n8n_id: str | None = None
    webhook_path: str | None = None
    checksum: str | None = None
    live: bool = False  # the binding points at this version after the call
    problems: list[LintProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the version is deployed and published as the file says."""
        return self.action in (CREATED, UPDATED, UNCHANGED)

    @property
    def ref(self) -> WorkflowRef:
        """The workflow version this result is about."""
        return WorkflowRef(self.integration, self.tool, self.version)


def ensure_webhook_credential(rt: HubParts, client: N8nClient) -> str:
    """n8n's id of the header-auth credential, holding the vault's current secret.

    Updates the stored credential in place (so a rotated secret reaches n8n); creates it
    when the hub has none recorded or n8n no longer has it.
    """
    with rt.db.session() as s:
        inst = get_instance(s)
        if inst is None:
            inst = register_instance(s, rt.vault, client.base_url)
        secret = secret_of(s, rt.vault, inst.webhook_secret_credential_id, "secret")
        if not secret:
            # an instance recorded before webhook secrets existed: register mints one
            inst = register_instance(s, rt.vault, inst.base_url)
            secret = secret_of(s, rt.vault, inst.webhook_secret_credential_id, "secret")
        data = {"name": WEBHOOK_AUTH_HEADER, "value": secret}
        cred_id = inst.webhook_auth_n8n_id
        if cred_id and client.update_credential(cred_id, data):
            return cred_id
        if cred_id:
            log.warning("n8n lost the webhook credential; creating it again", extra={"id": cred_id})
        cred_id = client.create_credential(WEBHOOK_CREDENTIAL_NAME, WEBHOOK_CREDENTIAL_TYPE, data)
        inst.webhook_auth_n8n_id = cred_id
        return cred_id


def _by_name(client: N8nClient, name: str) -> dict[str, Any] | None:
    for wf in client.list_workflows():
        if wf.get("name") == name and not wf.get("isArchived"):
            return wf
    return None


def _deploy_one(
    rt: HubParts,
    client: N8nClient,
    f: WorkflowFile,
    cred_id: str,
    actor: str,
    force: bool,
) -> DeployResult:
    ref = f.ref
    assert f.data is not None
    want = checksum(f.data)
    result = DeployResult(
        ref.integration, ref.tool, ref.version, FAILED, webhook_path=ref.webhook_path
    )
    result.checksum = want
    payload = deployable(f.data, ref, cred_id)
    with rt.db.session() as s:
        row = deployment(s, ref)
        recorded = (row.n8n_id, row.checksum) if row else None
    remote = client.find_workflow(recorded[0]) if recorded else None
    if remote is None and recorded is None:
        # A copy from an earlier hub database would hold the same webhook path: adopt it.
        remote = _by_name(client, ref.n8n_name)
        if remote is not None:
            remote = client.find_workflow(str(remote["id"]))
    if remote is not None:
        wid = str(remote["id"])
        cred_ok = all(
            (n.get("credentials") or {}).get(WEBHOOK_CREDENTIAL_TYPE, {}).get("id") == cred_id
            for n in remote.get("nodes", [])
            if n.get("type") == WEBHOOK_NODE_TYPE
        )
        in_sync = matches(want, remote) and cred_ok
        if recorded and recorded[1] == want and in_sync and is_published(remote):
            result.action, result.n8n_id = UNCHANGED, wid
            result.message = "unchanged: n8n's copy matches the file"
        else:
            drifted = recorded is not None and not matches(recorded[1], remote)
            if drifted and not force:
                result.action, result.n8n_id = DRIFTED, wid
                result.message = (
                    f"not deployed: {ref} was changed in the n8n editor since it was deployed; "
                    f"run `hub workflows pull {ref.integration} {ref.tool} --from "
                    f"{ref.version}` to keep the change as a new version, or deploy with "
                    "--force to overwrite it"
                )
                return result
            client.update_workflow(wid, payload)
            client.publish(wid)
            result.action, result.n8n_id = UPDATED, wid
            result.message = "updated and published" + (
                " (editor changes overwritten)" if drifted else ""
            )
    else:
        created = client.create_workflow(payload)
        wid = str(created["id"])
        client.publish(wid)
        result.action, result.n8n_id = CREATED, wid
        result.message = "created and published" + (
            " (n8n had lost the earlier copy)" if recorded else ""
        )
    _record(rt, result, want, actor)
    return result


def _record(rt: HubParts, result: DeployResult, want: str, actor: str) -> None:
    ref = result.ref
    with rt.db.session() as s:
        row = deployment(s, ref) or WorkflowDeployment(
            integration=ref.integration, tool=ref.tool, version=ref.version
        )
        row.checksum = want
        row.n8n_id = result.n8n_id or ""
        row.webhook_path = ref.webhook_path
        row.active = True
        # An unchanged version keeps when and by whom it was really deployed.
        if result.action != UNCHANGED or row.deployed_at is None:
            row.deployed_at = utcnow()
            row.deployed_by = actor
        s.add(row)


def _mark_live(s: Session, results: list[DeployResult]) -> None:
    for r in results:
        r.live = any(b.live_version == r.version for b in registry.list_bindings(s, r.ref.key))


def _promote(rt: HubParts, results: list[DeployResult]) -> None:
    by_key: dict[str, list[DeployResult]] = {}
    for r in results:
        by_key.setdefault(r.ref.key, []).append(r)
    with rt.db.session() as s:
        for key, rs in by_key.items():
            bindings = registry.list_bindings(s, key)
            if not bindings:
                for r in rs:
                    if r.ok:
                        r.message += f"; no registry binding uses {key}, so nothing routes to it"
                continue
            integration, tool = key.split("/", 1)
            deployed = [d.version for d in deployments(s, integration, tool) if d.active]
            changed = [r.version for r in rs if r.action in (CREATED, UPDATED)]
            for b in bindings:
                pool = changed if b.live_version is not None else deployed
                target = max(pool) if pool else None
                if target is not None and target != b.live_version:
                    log.info(
                        "workflow promoted",
                        extra={
                            "tool": b.tool_name,
                            "workflow": key,
                            "from": b.live_version,
                            "to": target,
                        },
                    )
                    registry.set_binding_version(s, b.tool_name, b.integration_slug, target)
        _mark_live(s, results)


def deploy_all(
    rt: HubParts,
    *,
    folder: Path | None = None,
    promote: bool = True,
    actor: str = "cli",
    only: str | list[str] | None = None,
    on_progress: ProgressFn | None = None,
    force: bool = False,
) -> list[DeployResult]:
    """Lint, deploy and publish every workflow file (or ``only`` ``integration/tool``
    keys); see the module docstring. Raises HubError when n8n is not configured or
    unreachable; per-file failures are results."""
    folder = Path(folder) if folder else default_folder(rt.settings)
    keys = {only} if isinstance(only, str) else set(only or [])
    files = [f for f in discover(folder) if not keys or f.ref.key in keys]
    if keys and not files:
        raise HubError(
            "not_found",
            f"no workflow files for {', '.join(sorted(keys))} in {folder} "
            "(expected <integration>/<tool>.v<N>.json)",
        )
    total = len(files)
    results: list[DeployResult] = []
    deployable_files: list[WorkflowFile] = []
    for f in files:
        problems = lint_file(f.path, root=folder)
        if errors(problems) or f.data is None:
            results.append(
                DeployResult(
                    f.ref.integration,
                    f.ref.tool,
                    f.ref.version,
                    REFUSED,
                    f"refused: {len(errors(problems))} lint error(s); run `hub workflows lint`",
                    webhook_path=f.ref.webhook_path,
                    problems=problems,
                )
            )
        else:
            deployable_files.append(f)
    done = len(results)
    if on_progress and done:
        on_progress(done, total, "linted")
    if not deployable_files:
        return results
    with client_for(rt) as client:
        try:
            cred_id = ensure_webhook_credential(rt, client)
        except N8nError as exc:
            raise HubError("n8n_unavailable", str(exc)) from None
        for f in deployable_files:
            if on_progress:
                on_progress(done, total, str(f.ref))
            try:
                r = _deploy_one(rt, client, f, cred_id, actor, force)
            except N8nError as exc:
                r = DeployResult(
                    f.ref.integration,
                    f.ref.tool,
                    f.ref.version,
                    FAILED,
                    str(exc),
                    webhook_path=f.ref.webhook_path,
                )
            results.append(r)
            log.info(
                "workflow deploy",
                extra={"workflow": str(f.ref), "action": r.action, "n8n_id": r.n8n_id},
            )
            done += 1
            if on_progress:
                on_progress(done, total, f"{f.ref}: {r.action}")
    results.sort(key=lambda r: r.ref)
    if promote:
        _promote(rt, results)
    else:
        with rt.db.session() as s:
            _mark_live(s, results)
    return results
