"""Workflow files: where they live, what they are for, and a checksum that ignores cosmetics.

A workflow file is plain n8n export JSON at ``n8n_workflows/<integration>/<tool>.v<N>.json``;
its Webhook node listens on ``hub/<integration>/<tool>/v<N>`` (see DESIGN.md section 4).

:func:`checksum` hashes a canonical form: per node its name, type, typeVersion, parameters,
the behaviour flags (``onError``, ``disabled``, retries...) and credential *names* (not ids);
the connections; and the settings the hub enforces. Positions, node ids, webhook ids, notes,
the workflow's name and id and n8n's bookkeeping are left out, so moving a node in the editor
(or n8n filling in the credential id) is not drift, while changing a parameter is.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.core.settings import repo_path

WEBHOOK_NODE_TYPE = "n8n-nodes-base.webhook"
WEBHOOK_TYPE_VERSION = 2.1
RESPOND_NODE_TYPE = "n8n-nodes-base.respondToWebhook"
HTTP_NODE_TYPE = "n8n-nodes-base.httpRequest"
STICKY_NOTE_TYPE = "n8n-nodes-base.stickyNote"

#: The n8n credential every hub webhook requires (header X-Hub-Webhook-Token).
WEBHOOK_CREDENTIAL_NAME = "hub webhook auth"
WEBHOOK_CREDENTIAL_TYPE = "httpHeaderAuth"
#: What files hold instead of n8n's credential id; deploy fills the real one in.
WEBHOOK_CREDENTIAL_PLACEHOLDER = "HUB_WEBHOOK_AUTH"

#: Settings deploy forces and lint requires (values must be exactly these).
ENFORCED_SETTINGS: dict[str, Any] = {
    "executionOrder": "v1",
    "saveDataSuccessExecution": "none",
    "saveDataErrorExecution": "none",
    "saveManualExecutions": False,
    "saveExecutionProgress": False,
}
DEFAULT_EXECUTION_TIMEOUT_S = 30
MAX_EXECUTION_TIMEOUT_S = 300

#: Node attributes that change what a node does (everything else on a node is cosmetic).
BEHAVIOUR_KEYS = (
    "onError",
    "disabled",
    "continueOnFail",
    "alwaysOutputData",
    "executeOnce",
    "retryOnFail",
    "maxTries",
    "waitBetweenTries",
)

FILE_RE = re.compile(r"^(?P<tool>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.json$")
SLUG_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, order=True)
class WorkflowRef:
    """Which tool of which integration a workflow version serves."""

    integration: str
    tool: str
    version: int

    @property
    def key(self) -> str:
        """``integration/tool``: the registry binding's ``workflow`` value."""
        return f"{self.integration}/{self.tool}"

    @property
    def webhook_path(self) -> str:
        """This version's webhook path, ``hub/<integration>/<tool>/v<N>``."""
        return webhook_path(self.integration, self.tool, self.version)

    @property
    def file_name(self) -> str:
        """``<tool>.v<N>.json``."""
        return f"{self.tool}.v{self.version}.json"

    @property
    def relative_path(self) -> str:
        """``<integration>/<tool>.v<N>.json``, under the workflows folder."""
        return f"{self.integration}/{self.file_name}"

    @property
    def n8n_name(self) -> str:
        """The name deploy gives the workflow in n8n."""
        return f"hub: {self.key} v{self.version}"

    def with_version(self, version: int) -> WorkflowRef:
        """The same tool's workflow at another version."""
        return WorkflowRef(self.integration, self.tool, version)

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


@dataclass
class WorkflowFile:
    """A workflow file found on disk (``data`` is None when it is not valid JSON)."""

    ref: WorkflowRef
    path: Path
    data: dict[str, Any] | None
    error: str | None = None


def webhook_path(integration: str, tool: str, version: int) -> str:
    """The contract's webhook path: ``hub/<integration>/<tool>/v<N>``."""
    return f"hub/{integration}/{tool}/v{version}"


def default_folder(settings: Any = None) -> Path:
    """``HUB_WORKFLOWS_DIR`` when set, else the shipped ``n8n_workflows`` folder."""
    configured = getattr(settings, "workflows_dir", None) if settings is not None else None
    return Path(configured) if configured else repo_path("n8n_workflows")


def parse_path(path: Path | str) -> WorkflowRef | None:
    """``.../<integration>/<tool>.v<N>.json`` -> its ref, or None for any other name."""
    p = Path(path)
    m = FILE_RE.match(p.name)
    integration = p.parent.name
    if not m or not SLUG_RE.match(integration):
        return None
    return WorkflowRef(integration, m.group("tool"), int(m.group("version")))


def load(path: Path | str) -> dict[str, Any]:
    """The file's JSON object (ValueError when it is not a JSON object)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the file holds JSON but not an object")
    return data


def candidate_files(folder: Path) -> list[Path]:
    """Every ``*.json`` one level below ``folder`` (integration folders), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*/*.json") if p.is_file())


def discover(folder: Path | None = None) -> list[WorkflowFile]:
    """The workflow files under ``folder``, sorted by integration, tool and version.

    Files whose names do not follow ``<integration>/<tool>.v<N>.json`` are skipped here
    (lint reports them).
    """
    folder = Path(folder) if folder else default_folder()
    out: list[WorkflowFile] = []
    for p in candidate_files(folder):
        ref = parse_path(p)
        if ref is None:
            continue
        try:
            out.append(WorkflowFile(ref, p, load(p)))
        except (OSError, ValueError) as exc:
            out.append(WorkflowFile(ref, p, None, f"not valid JSON: {exc}"))
    return sorted(out, key=lambda f: f.ref)


# --------------------------------------------------------------------------- canonical form


def _nodes(wf: Mapping[str, Any]) -> list[dict[str, Any]]:
    nodes = wf.get("nodes")
    return [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []


def webhook_nodes(wf: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The workflow's Webhook nodes."""
    return [n for n in _nodes(wf) if n.get("type") == WEBHOOK_NODE_TYPE]


def _canonical_connections(conns: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(conns, dict):
        return out
    for source, by_type in conns.items():
        if not isinstance(by_type, dict):
            continue
        kinds: dict[str, Any] = {}
        for kind, outputs in by_type.items():
            if not isinstance(outputs, list):
                continue
            outs = [
                sorted(
                    (
                        [str(t.get("node")), str(t.get("type", kind)), int(t.get("index", 0))]
                        for t in (o or [])
                        if isinstance(t, dict)
                    ),
                )
                for o in outputs
            ]
            while outs and not outs[-1]:
                outs.pop()  # the editor writes trailing empty outputs; they mean nothing
            if outs:
                kinds[kind] = outs
        if kinds:
            out[str(source)] = kinds
    return out


def canonical_settings(settings: Any) -> dict[str, Any]:
    """The settings that count: the enforced ones and the execution timeout."""
    s = settings if isinstance(settings, dict) else {}
    keys = [*ENFORCED_SETTINGS, "executionTimeout"]
    return {k: s.get(k) for k in keys}


def canonical(wf: Mapping[str, Any]) -> dict[str, Any]:
    """What the checksum covers (see the module docstring)."""
    nodes = []
    for n in _nodes(wf):
        item: dict[str, Any] = {
            "name": n.get("name"),
            "type": n.get("type"),
            "typeVersion": n.get("typeVersion"),
            "parameters": n.get("parameters") or {},
        }
        for key in BEHAVIOUR_KEYS:
            if n.get(key) not in (None, False):
                item[key] = n[key]
        creds = n.get("credentials")
        if isinstance(creds, dict) and creds:
            item["credentials"] = {
                str(t): (c.get("name") if isinstance(c, dict) else c) for t, c in creds.items()
            }
        nodes.append(item)
    nodes.sort(key=lambda x: str(x["name"]))
    return {
        "nodes": nodes,
        "connections": _canonical_connections(wf.get("connections")),
        "settings": canonical_settings(wf.get("settings")),
    }


def checksum(wf: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical`."""
    text = json.dumps(canonical(wf), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def enforce_settings(settings: Any) -> dict[str, Any]:
    """The file's settings with the enforced values forced and a sane execution timeout."""
    out = dict(settings) if isinstance(settings, dict) else {}
    out.update(ENFORCED_SETTINGS)
    timeout = out.get("executionTimeout")
    if not (
        isinstance(timeout, int)
        and not isinstance(timeout, bool)
        and 0 < timeout <= MAX_EXECUTION_TIMEOUT_S
    ):
        out["executionTimeout"] = DEFAULT_EXECUTION_TIMEOUT_S
    return out


def set_webhook_credential(wf: dict[str, Any], credential_id: str) -> None:
    """Point every Webhook node's header auth at ``credential_id`` (in place)."""
    for n in webhook_nodes(wf):
        n["credentials"] = {
            WEBHOOK_CREDENTIAL_TYPE: {"id": credential_id, "name": WEBHOOK_CREDENTIAL_NAME}
        }


def deployable(wf: Mapping[str, Any], ref: WorkflowRef, credential_id: str) -> dict[str, Any]:
    """What deploy sends n8n: the file with its name, credential id and settings set."""
    out = copy.deepcopy(dict(wf))
    out["name"] = ref.n8n_name
    out["settings"] = enforce_settings(out.get("settings"))
    set_webhook_credential(out, credential_id)
    return out


#: Top-level keys of an export file (what the n8n editor's download holds, minus ids).
EXPORT_KEYS = ("name", "nodes", "connections", "settings", "pinData", "meta")


def to_export(remote: Mapping[str, Any], ref: WorkflowRef) -> dict[str, Any]:
    """n8n's copy of a workflow as a file for ``ref``: export form, webhook path and a new
    webhook id for that version, the credential placeholder instead of n8n's id.

    Other stored credentials are kept as they are, so lint reports them.
    """
    nodes = copy.deepcopy(_nodes(remote))
    for n in nodes:
        if n.get("type") == WEBHOOK_NODE_TYPE:
            params = n.setdefault("parameters", {})
            params["path"] = ref.webhook_path
            n["webhookId"] = str(uuid.uuid4())
            creds = n.get("credentials")
            if isinstance(creds, dict) and WEBHOOK_CREDENTIAL_TYPE in creds:
                creds[WEBHOOK_CREDENTIAL_TYPE] = {
                    "id": WEBHOOK_CREDENTIAL_PLACEHOLDER,
                    "name": WEBHOOK_CREDENTIAL_NAME,
                }
    raw_settings = remote.get("settings")
    settings: dict[str, Any] = raw_settings if isinstance(raw_settings, dict) else {}
    kept = {k: settings[k] for k in (*ENFORCED_SETTINGS, "executionTimeout") if k in settings}
    return {
        "name": ref.n8n_name,
        "nodes": nodes,
        "connections": copy.deepcopy(remote.get("connections") or {}),
        "settings": kept,
        "pinData": {},
        "meta": {"templateCredsSetupCompleted": True},
    }


def dumps(wf: Mapping[str, Any]) -> str:
    """The file text for a workflow (2-space JSON, UTF-8, final newline)."""
    return json.dumps(wf, indent=2, ensure_ascii=False) + "\n"
