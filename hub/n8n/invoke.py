"""Calling a workflow's webhook: the one network hop of every tool call, on httpx.

It implements the call path's Hop (hub.core.hop): NotSent when the request provably never
reached n8n (a retry may run the call again), OutcomeUnknown once it may have (never resent):

* NotSent: no connection could be made (refused, DNS, connect timeout), n8n has no such
  webhook (404), n8n refused the webhook credential (403);
* OutcomeUnknown: a timeout or a lost connection once the request may have gone out, an
  answer that is not JSON or not the hub's contract ({"ok": ...}), an answer over 16 MiB.

A small hand-written HTTP/1.1 client (httptools) served this hop before. Against a real n8n
it was faster in most rounds but not outside the round-to-round noise in every run, while
using about 2 ms less CPU per call under load (bench/RESULTS.md; bench.invoker_bench keeps a
copy of it for the comparison).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from hub.core.hop import NotSent, OutcomeUnknown

WEBHOOK_AUTH_HEADER = "X-Hub-Webhook-Token"

# Below Node's 5 s keep-alive timeout (n8n's HTTP server): the hub drops an idle connection
# before n8n can close it under a request in flight, which would make the outcome unknown.
KEEPALIVE_S = 3.0
CONNECT_TIMEOUT_S = 2.0
MAX_IDLE = 64
MAX_ANSWER_BYTES = 16 * 1024 * 1024
SAFE_PATH = re.compile(r"[A-Za-z0-9/_.\-]+")


class WebhookInvoker:
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
            "Accept-Encoding": "identity",  # nothing to gain from compression on this hop
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
                trust_env=False,  # no proxy or .netrc from the environment on this hop
                follow_redirects=False,
                limits=httpx.Limits(
                    max_connections=None,
                    max_keepalive_connections=MAX_IDLE,
                    keepalive_expiry=KEEPALIVE_S,
                ),
            )
            self._loop = loop
        return self._client

    async def post(
        self, path: str, body: dict[str, Any], timeout_s: float | None = None
    ) -> dict[str, Any]:
        """POST the body to /webhook/<path>; returns the workflow's JSON answer."""
        if not SAFE_PATH.fullmatch(path):
            raise NotSent(f"refusing webhook path {path!r}: it must be hub/<integration>/...")
        payload = json.dumps(body).encode()
        client = self._client_for_loop()
        answer_s = timeout_s or self.timeout_s
        # Connecting has its own bound (a connect that fails or times out is NotSent); the
        # answer then has answer_s, per read and as a whole.
        timeout = httpx.Timeout(answer_s, connect=CONNECT_TIMEOUT_S, pool=CONNECT_TIMEOUT_S)
        try:
            async with (
                asyncio.timeout(CONNECT_TIMEOUT_S + answer_s),
                client.stream(
                    "POST", self._webhooks + path, content=payload, timeout=timeout
                ) as resp,
            ):
                if int(resp.headers.get("content-length") or 0) > MAX_ANSWER_BYTES:
                    raise OutcomeUnknown("no answer from n8n (an answer over 16 MiB)")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise OutcomeUnknown("no answer from n8n (an answer over 16 MiB)")
                    chunks.append(chunk)
                status = resp.status_code
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(
                f"n8n is not reachable at {self.base_url} ({type(exc).__name__})"
            ) from None
        except (TimeoutError, httpx.TimeoutException):
            raise OutcomeUnknown("no answer from n8n (timed out)") from None
        except httpx.TransportError as exc:
            raise OutcomeUnknown(f"no answer from n8n ({type(exc).__name__}: {exc})") from None
        return answer(status, b"".join(chunks), path)

    async def aclose(self) -> None:
        """Close the pool's connections (those of the running loop; others go with theirs)."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()


def answer(status: int, raw: bytes, path: str) -> dict[str, Any]:
    """The workflow's answer, or the failure it stands for."""
    if status == 404:
        raise NotSent(f"n8n has no active webhook {path}: deploy it with `hub workflows deploy`")
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
            f"n8n answered {status} outside the hub's contract (workflow failed before responding)"
        )
    return data
