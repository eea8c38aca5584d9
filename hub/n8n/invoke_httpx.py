"""The webhook hop on httpx: the same Hop contract as hub.n8n.invoke, on a general client.

NotSent when the request provably never reached n8n (no connection could be made, no such
webhook, the webhook credential refused); OutcomeUnknown once it may have (a timeout or a
lost connection after the request went out, an answer that is not JSON or not the hub's
contract, an answer over 16 MiB).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from hub.core.hop import NotSent, OutcomeUnknown
from hub.n8n.invoke import (
    _SAFE_PATH,
    CONNECT_TIMEOUT_S,
    KEEPALIVE_S,
    MAX_ANSWER_BYTES,
    MAX_IDLE,
    WEBHOOK_AUTH_HEADER,
    _answer,
)


class HttpxWebhookInvoker:
    """POSTs run bodies to n8n webhooks over an httpx keep-alive pool."""

    def __init__(self, base_url: str, webhook_secret: str, *, timeout_s: float = 60.0) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the n8n URL must be http(s)://host[:port][/path]")
        if "\r" in webhook_secret or "\n" in webhook_secret:
            raise ValueError("the webhook secret must be a single line")
        self.base_url = base_url.rstrip("/")
        self._webhooks = f"{self.base_url}/webhook/"
        self._headers = {
            "Content-Type": "application/json",
            WEBHOOK_AUTH_HEADER: webhook_secret,
            # As the hand-written client: nothing to gain from compression on the hop.
            "Accept-Encoding": "identity",
        }
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client_for_loop(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # Connections belong to the loop that made them (tests run apps on several loops);
            # a client left on another loop is dropped with it.
            self._client = httpx.AsyncClient(
                headers=self._headers,
                # Proxies and .netrc from the environment must not reroute the hop.
                trust_env=False,
                follow_redirects=False,
                limits=httpx.Limits(
                    max_connections=None,
                    max_keepalive_connections=MAX_IDLE,
                    # Below Node's 5 s keep-alive timeout, as in hub.n8n.invoke.
                    keepalive_expiry=KEEPALIVE_S,
                ),
            )
            self._loop = loop
        return self._client

    async def post(
        self, path: str, body: dict[str, Any], timeout_s: float | None = None
    ) -> dict[str, Any]:
        """POST the body to /webhook/<path>; returns the workflow's JSON answer."""
        if not _SAFE_PATH.fullmatch(path):
            raise NotSent(f"refusing webhook path {path!r}: it must be hub/<integration>/...")
        payload = json.dumps(body).encode()
        client = self._client_for_loop()
        answer_s = timeout_s or self.timeout_s
        # Connecting has its own bound (a refused or slow connect is NotSent); the answer then
        # has answer_s, per read and as a whole.
        timeout = httpx.Timeout(answer_s, connect=CONNECT_TIMEOUT_S, pool=CONNECT_TIMEOUT_S)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S + answer_s):
                async with client.stream(
                    "POST", self._webhooks + path, content=payload, timeout=timeout
                ) as resp:
                    if int(resp.headers.get("content-length") or 0) > MAX_ANSWER_BYTES:
                        raise OutcomeUnknown("no answer from n8n (an answer over 16 MiB)")
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > MAX_ANSWER_BYTES:
                            raise OutcomeUnknown("no answer from n8n (an answer over 16 MiB)")
                        chunks.append(chunk)
                    raw = b"".join(chunks)
                    status = resp.status_code
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(
                f"n8n is not reachable at {self.base_url} ({type(exc).__name__})"
            ) from None
        except (TimeoutError, httpx.TimeoutException):
            raise OutcomeUnknown("no answer from n8n (timed out)") from None
        except httpx.TransportError as exc:
            raise OutcomeUnknown(f"no answer from n8n ({type(exc).__name__}: {exc})") from None
        return _answer(status, raw, path)

    async def aclose(self) -> None:
        """Close the pool's connections."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()
