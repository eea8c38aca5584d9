"""Calling a workflow's webhook: the one network hop of every tool call.

aiohttp rather than httpx here: on this hop httpx spent about 0.8 ms of CPU per call against
aiohttp's 0.2 ms (bench/RESULTS.md), and every tool call pays it once.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

WEBHOOK_AUTH_HEADER = "X-Hub-Webhook-Token"

# Below Node's 5 s keep-alive timeout (n8n's HTTP server): the hub drops an idle connection
# before n8n can close it under a request in flight, which would make the outcome unknown.
KEEPALIVE_S = 3.0
CONNECT_TIMEOUT_S = 2.0


class NotSent(Exception):
    """The request never reached n8n (connection refused, DNS, no such webhook)."""


class OutcomeUnknown(Exception):
    """The request was sent but no usable answer came back (timeout, broken reply)."""


class WebhookInvoker:
    """POSTs run bodies to n8n webhooks over a shared keep-alive client."""

    def __init__(self, base_url: str, webhook_secret: str, *, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {WEBHOOK_AUTH_HEADER: webhook_secret, "Content-Type": "application/json"}
        self.timeout_s = timeout_s
        self._client: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        # A session belongs to the loop it was made on (tests run apps on several loops).
        if self._client is None or self._client.closed or self._loop is not loop:
            self._loop = loop
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=KEEPALIVE_S),
                # Connect fast (n8n down must fail fast); reads may take as long as the workflow.
                timeout=aiohttp.ClientTimeout(total=self.timeout_s, sock_connect=CONNECT_TIMEOUT_S),
            )
        return self._client

    async def post(self, path: str, body: dict[str, Any], timeout_s: float | None = None) -> dict:
        """POST the body to /webhook/<path>; returns the workflow's JSON answer."""
        url = f"{self.base_url}/webhook/{path}"
        client = self._get_client()
        timeout = aiohttp.ClientTimeout(
            total=timeout_s or self.timeout_s, sock_connect=CONNECT_TIMEOUT_S
        )
        try:
            async with client.post(
                url, data=json.dumps(body), headers=self._headers, timeout=timeout
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise NotSent(
                f"n8n is not reachable at {self.base_url} ({type(exc).__name__})"
            ) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise OutcomeUnknown(f"no answer from n8n ({type(exc).__name__})") from None
        if status == 404:
            raise NotSent(
                f"n8n has no active webhook {path}: deploy it with `hub workflows deploy`"
            )
        if status == 403:
            raise NotSent(
                "n8n refused the hub's webhook credential: run `hub workflows deploy` "
                "to re-provision it"
            )
        try:
            data = json.loads(raw)
        except ValueError:
            raise OutcomeUnknown(f"n8n answered {status} without JSON") from None
        if not isinstance(data, dict) or "ok" not in data:
            raise OutcomeUnknown(
                f"n8n answered {status} outside the hub's contract "
                "(workflow failed before responding)"
            )
        return data

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = None
