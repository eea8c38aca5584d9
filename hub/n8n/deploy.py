"""Deploying workflow files to n8n, and the state around it: status, drift, pull, rollback.

Nothing here prints; every function returns what happened (the CLI renders it).

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

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.errors import HubError
from hub.db.base import utcnow
from hub.n8n.client import N8nClient, N8nError
from hub.n8n.instance import HubParts, api_key, get_instance, register_instance, secret_of
from hub.n8n.invoke import WEBHOOK_AUTH_HEADER
from hub.n8n.lint import LintProblem, errors, lint_file
from hub.n8n.models import WorkflowDeployment
from hub.n8n.workflows import (
    WEBHOOK_CREDENTIAL_NAME,
    WEBHOOK_CREDENTIAL_TYPE,
    WorkflowFile,
    WorkflowRef,
    checksum,
    default_folder,
    deployable,
    discover,
    dumps,
    to_export,
)
from hub.registry import service as registry
from hub.registry.service import ToolProvider

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
        return self.action in (CREATED, UPDATED, UNCHANGED)

    @property
    def ref(self) -> WorkflowRef:
        return WorkflowRef(self.integration, self.tool, self.version)


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
        return self.live_version is not None and self.live_version in self.drift

    @property
    def healthy(self) -> bool:
        return not (
            self.drift
            or self.file_changed
            or self.not_deployed
            or self.missing_in_n8n
            or self.unpublished
            or self.n8n_error
            or (self.files and self.live_version is None)
        )


@dataclass
class RollbackResult:
    integration: str
    tool: str
    previous: int | None
    live_version: int
    bindings: list[str]  # tool names whose binding moved


def client_for(rt: HubParts) -> N8nClient:
    """A client for the configured n8n's public API (HubError n8n_unavailable otherwise)."""
    with rt.db.session() as s:
        url, key = api_key(s, rt.vault, rt.settings)
    return N8nClient(url, key)


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


def _deployment(s: Session, ref: WorkflowRef) -> WorkflowDeployment | None:
    return s.scalar(
        select(WorkflowDeployment).where(
            WorkflowDeployment.integration == ref.integration,
            WorkflowDeployment.tool == ref.tool,
            WorkflowDeployment.version == ref.version,
        )
    )


def _deployments(s: Session, integration: str, tool: str) -> list[WorkflowDeployment]:
    return list(
        s.scalars(
            select(WorkflowDeployment)
            .where(WorkflowDeployment.integration == integration, WorkflowDeployment.tool == tool)
            .order_by(WorkflowDeployment.version)
        )
    )


def _bindings(s: Session, key: str) -> list[ToolProvider]:
    return registry.list_bindings(s, key)


def remote_checksums(remote: dict[str, Any]) -> list[str]:
    """Checksums of n8n's draft and of its published version (when it has one)."""
    out = [checksum(remote)]
    active = remote.get("activeVersion")
    if isinstance(active, dict) and isinstance(active.get("nodes"), list):
        out.append(checksum({**active, "settings": remote.get("settings")}))
    return out


def _is_published(remote: dict[str, Any]) -> bool:
    return bool(remote.get("active")) or bool(remote.get("activeVersionId"))


def _matches(want: str, remote: dict[str, Any]) -> bool:
    return all(c == want for c in remote_checksums(remote))


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
        row = _deployment(s, ref)
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
            if n.get("type") == "n8n-nodes-base.webhook"
        )
        in_sync = _matches(want, remote) and cred_ok
        if recorded and recorded[1] == want and in_sync and _is_published(remote):
            result.action, result.n8n_id = UNCHANGED, wid
            result.message = "unchanged: n8n's copy matches the file"
        else:
            drifted = recorded is not None and not all(
                c == recorded[1] for c in remote_checksums(remote)
            )
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
    with rt.db.session() as s:
        row = _deployment(s, ref) or WorkflowDeployment(
            integration=ref.integration, tool=ref.tool, version=ref.version
        )
        row.checksum = want
        row.n8n_id = result.n8n_id or ""
        row.webhook_path = ref.webhook_path
        row.active = True
        if result.action != UNCHANGED or row.deployed_at is None:
            row.deployed_at = utcnow()
            row.deployed_by = actor
        s.add(row)
    return result


def _promote(rt: HubParts, results: list[DeployResult]) -> None:
    by_key: dict[str, list[DeployResult]] = {}
    for r in results:
        by_key.setdefault(r.ref.key, []).append(r)
    with rt.db.session() as s:
        for key, rs in by_key.items():
            bindings = _bindings(s, key)
            if not bindings:
                for r in rs:
                    if r.ok:
                        r.message += f"; no registry binding uses {key}, so nothing routes to it"
                continue
            integration, tool = key.split("/", 1)
            deployed = [d.version for d in _deployments(s, integration, tool) if d.active]
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
        for r in results:
            r.live = any(b.live_version == r.version for b in _bindings(s, r.ref.key))


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
    try:
        client = client_for(rt)
    except HubError:
        raise
    with client:
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
            for r in results:
                r.live = any(b.live_version == r.version for b in _bindings(s, r.ref.key))
    return results


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
        rows = [
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
                            vs.published = _is_published(remote)
                            vs.drift = not _matches(csum, remote)
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
        deployed = _deployments(s, integration, tool)
        if from_version is None:
            lives = [b.live_version for b in _bindings(s, key) if b.live_version is not None]
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
        bindings = _bindings(s, key)
        if not bindings:
            raise HubError("not_found", f"no registry binding uses the workflow {key}.")
        row = _deployment(s, WorkflowRef(integration, tool, to_version))
        if row is None or not row.active:
            known = ", ".join(f"v{d.version}" for d in _deployments(s, integration, tool))
            raise HubError(
                "not_found",
                f"{key} v{to_version} is not deployed (deployed: {known or 'none'}); "
                "deploy it before rolling back to it.",
            )
        n8n_id = row.n8n_id
    with client_for(rt) as client:
        remote = client.find_workflow(n8n_id)
    if remote is None or not _is_published(remote):
        raise HubError(
            "conflict",
            f"{key} v{to_version} is not published in n8n (id {n8n_id}"
            f"{', missing' if remote is None else ', inactive'}); redeploy it first.",
        )
    with rt.db.session() as s:
        previous = next((b.live_version for b in _bindings(s, key)), None)
        registry.set_live_version(s, key, to_version)
        names = [b.tool_name for b in _bindings(s, key)]
    log.warning(
        "workflow rollback",
        extra={"workflow": key, "from": previous, "to": to_version, "tools": names},
    )
    return RollbackResult(integration, tool, previous, to_version, names)
