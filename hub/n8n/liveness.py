"""Webhook liveness: each live binding's webhook must answer; what stopped answering is
redeployed, and what stays dead is reported for an alert.

n8n can drop a workflow's webhook registration silently: the workflow is shown active but its
webhook answers 404 until n8n restarts (or the workflow was unpublished by someone in the
editor). A call would then fail for every tenant using that tool. The probe costs nothing:
a POST without the hub's header credential, which a registered webhook refuses (401/403)
before any node runs, and an unregistered one answers 404. No execution starts and no vendor
is called. A dead one is unpublished and published again through n8n's API, which registers
its webhook anew, and probed once more.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

import httpx

from hub.core.errors import HubError
from hub.n8n.client import N8nError
from hub.n8n.deployments import client_for, deployments
from hub.n8n.instance import HubParts, api_key
from hub.n8n.workflows import WorkflowRef
from hub.registry import service as registry

log = logging.getLogger("hub.n8n.liveness")

ALIVE, HEALED, DEAD, UNREACHABLE = "alive", "healed", "dead", "n8n_unreachable"


@dataclass
class WebhookCheck:
    """One live workflow version's webhook: what the probe found and what was done."""

    integration: str
    tool: str
    version: int
    webhook_path: str
    result: str  # alive | healed | dead | n8n_unreachable
    detail: str = ""

    @property
    def ref(self) -> WorkflowRef:
        """The workflow version checked."""
        return WorkflowRef(self.integration, self.tool, self.version)


def probe(http: httpx.Client, base_url: str, path: str) -> bool | None:
    """True: the webhook is registered; False: n8n answers 404; None: n8n unreachable."""
    try:
        r = http.post(f"{base_url}/webhook/{path}", json={})
    except httpx.HTTPError:
        return None
    return r.status_code != 404


def _answers_soon(http: httpx.Client, base_url: str, path: str, within: float = 10.0) -> bool:
    """Probe until registered: in queue mode n8n registers a published webhook a moment
    after the publish call returns."""
    deadline = time.monotonic() + within
    while True:
        if probe(http, base_url, path):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)


def _live_versions(rt: HubParts) -> list[tuple[str, str, int, str, str]]:
    """(integration, tool, version, n8n id, webhook path) of every live binding's version."""
    out: dict[tuple[str, str, int], tuple[str, str, int, str, str]] = {}
    with rt.db.session() as s:
        for b in registry.list_bindings(s):
            if b.live_version is None:
                continue
            integration, _, tool = b.workflow.partition("/")
            for d in deployments(s, integration, tool):
                if d.version == b.live_version and d.active:
                    out[(integration, tool, d.version)] = (
                        integration,
                        tool,
                        d.version,
                        d.n8n_id,
                        d.webhook_path,
                    )
    return sorted(out.values())


def check_webhooks(rt: HubParts, *, timeout: float = 5.0) -> list[WebhookCheck]:
    """Probe every live webhook; redeploy the dead ones and probe them again."""
    versions = _live_versions(rt)
    if not versions:
        return []
    try:
        with rt.db.session() as s:
            base_url, _ = api_key(s, rt.vault, rt.settings)
    except HubError:
        return []  # no n8n configured any more: nothing to probe
    checks: list[WebhookCheck] = []
    with httpx.Client(timeout=timeout) as http:
        for integration, tool, version, n8n_id, path in versions:
            state = probe(http, base_url, path)
            if state is None:
                checks.append(WebhookCheck(integration, tool, version, path, UNREACHABLE))
                continue
            if state:
                checks.append(WebhookCheck(integration, tool, version, path, ALIVE))
                continue
            checks.append(_heal(rt, http, base_url, (integration, tool, version, n8n_id, path)))
    return checks


def _heal(
    rt: HubParts, http: httpx.Client, base_url: str, row: tuple[str, str, int, str, str]
) -> WebhookCheck:
    integration, tool, version, n8n_id, path = row
    log.warning(
        "webhook not answering, redeploying",
        extra={"workflow": f"{integration}/{tool} v{version}", "n8n_id": n8n_id},
    )
    try:
        with client_for(rt) as client:
            with contextlib.suppress(N8nError):  # already inactive: publishing matters
                client.deactivate(n8n_id)
            client.publish(n8n_id)
    except (N8nError, HubError) as exc:
        # An n8n main that has just restarted registers its webhooks one by one and may
        # refuse a publish meanwhile: one that answers a moment later was never dead.
        if _answers_soon(http, base_url, path, within=5.0):
            return WebhookCheck(integration, tool, version, path, ALIVE)
        detail = getattr(exc, "message", None) or str(exc)
        return WebhookCheck(integration, tool, version, path, DEAD, f"redeploy failed: {detail}")
    if _answers_soon(http, base_url, path):
        log.info("webhook redeployed", extra={"workflow": f"{integration}/{tool} v{version}"})
        return WebhookCheck(integration, tool, version, path, HEALED)
    return WebhookCheck(
        integration, tool, version, path, DEAD, "still 404 after it was published again"
    )
