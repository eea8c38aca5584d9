"""Calling a workflow's webhook: the one network hop of every tool call."""

from __future__ import annotations

from typing import Any

import httpx

WEBHOOK_AUTH_HEADER = "X-Hub-Webhook-Token"


class NotSent(Exception):
    """The request never reached n8n (connection refused, DNS, no such webhook)."""


class OutcomeUnknown(Exception):
    """The request was sent but no usable answer came back (timeout, broken reply)."""


class WebhookInvoker:
    """POSTs run bodies to n8n webhooks over a shared keep-alive client."""

    def __init__(self, base_url: str, webhook_secret: str, *, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {WEBHOOK_AUTH_HEADER: webhook_secret}
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            # Connect fast (n8n down must fail fast); reads may take as long as the workflow.
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_s, connect=2.0),
                limits=httpx.Limits(max_keepalive_connections=50, max_connections=200),
            )
        return self._client

    async def post(self, path: str, body: dict[str, Any], timeout_s: float | None = None) -> dict:
        """POST the body to /webhook/<path>; returns the workflow's JSON answer."""
        url = f"{self.base_url}/webhook/{path}"
        client = self._get_client()
        try:
            resp = await client.post(
                url,
                json=body,
                headers=self._headers,
                timeout=httpx.Timeout(timeout_s or self.timeout_s, connect=2.0),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise NotSent(
                f"n8n is not reachable at {self.base_url} ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise OutcomeUnknown(f"no answer from n8n ({type(exc).__name__})") from None
        if resp.status_code == 404:
            raise NotSent(
                f"n8n has no active webhook {path}: deploy it with `hub workflows deploy`"
            )
        if resp.status_code == 403:
            raise NotSent(
                "n8n refused the hub's webhook credential: run `hub workflows deploy` "
                "to re-provision it"
            )
        try:
            data = resp.json()
        except ValueError:
            raise OutcomeUnknown(f"n8n answered {resp.status_code} without JSON") from None
        if not isinstance(data, dict) or "ok" not in data:
            raise OutcomeUnknown(
                f"n8n answered {resp.status_code} outside the hub's contract "
                "(workflow failed before responding)"
            )
        return data

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
