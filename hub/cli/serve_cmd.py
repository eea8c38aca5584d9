"""`hub serve --provision-n8n`: the first start of a compose replica needs no manual step."""

from __future__ import annotations

from hub.cli.common import console, fail
from hub.core.errors import HubError
from hub.n8n.bootstrap import bootstrap
from hub.runtime import Runtime


def provision(rt: Runtime) -> None:
    """Provision HUB_N8N_URL's owner and API key once (across replicas) and deploy."""
    url = rt.settings.n8n_url
    if not url:
        raise fail("--provision-n8n needs HUB_N8N_URL (where this hub reaches n8n)", 2)
    if rt.settings.n8n_api_key:
        raise fail(
            "--provision-n8n makes its own n8n API key: unset HUB_N8N_API_KEY, or drop the flag",
            2,
        )
    try:
        results = bootstrap(rt, url)
    except HubError as exc:
        raise fail(exc.message, 2) from None
    rt.calls.refresh_hop()
    failed = [r for r in results if not r.ok]
    console.print(f"n8n at {url}: {len(results) - len(failed)} workflow version(s) live")
    for r in failed:
        console.print(f"[yellow]workflow {r.ref}: {r.message}[/]")
