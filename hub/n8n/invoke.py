"""Calling a workflow's webhook: the one network hop of every tool call.

POSTs JSON to one n8n over kept-alive connections (hub.core.keepalive). Against a real n8n,
alternating rounds with an httpx client behind the same protocol, it was faster in 26 of 30
rounds (6-15 % at the median) and used 0.4-0.5 ms of CPU per call against httpx's 2.2-2.8 ms
(bench/RESULTS.md, bench.invoker_bench).

It implements the call path's Hop (hub.core.hop): NotSent when the request provably never
reached n8n (a retry may run the call again), OutcomeUnknown once it may have (never resent).
"""

from __future__ import annotations

import json
import re
import ssl
from typing import Any
from urllib.parse import urlsplit

from hub.core.hop import NotSent, OutcomeUnknown
from hub.core.keepalive import Connection, Idle, Lost, connect

WEBHOOK_AUTH_HEADER = "X-Hub-Webhook-Token"

# Below Node's 5 s keep-alive timeout (n8n's HTTP server): the hub drops an idle connection
# before n8n can close it under a request in flight, which would make the outcome unknown.
KEEPALIVE_S = 3.0
SAFE_PATH = re.compile(r"[A-Za-z0-9/_.\-]+")


class WebhookInvoker:
    """POSTs run bodies to n8n webhooks over kept-alive connections."""

    def __init__(self, base_url: str, webhook_secret: str, *, timeout_s: float = 60.0) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the n8n URL must be http(s)://host[:port][/path]")
        if "\r" in webhook_secret or "\n" in webhook_secret:
            raise ValueError("the webhook secret must be a single line")
        self.base_url = base_url.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self._prefix = parts.path
        # An IPv6 literal keeps its brackets in the Host header (RFC 9110 7.2).
        host = f"[{self._host}]" if ":" in self._host else self._host
        host_header = host if parts.port is None else f"{host}:{self._port}"
        self._head = (
            f"Host: {host_header}\r\nContent-Type: application/json\r\n"
            f"{WEBHOOK_AUTH_HEADER}: {webhook_secret}\r\nConnection: keep-alive\r\n"
        )
        self.timeout_s = timeout_s
        self._idle = Idle(KEEPALIVE_S)

    async def post(self, path: str, body: dict[str, Any], timeout_s: float | None = None) -> dict:
        """POST the body to /webhook/<path>; returns the workflow's JSON answer."""
        if not SAFE_PATH.fullmatch(path):
            raise NotSent(f"refusing webhook path {path!r}: it must be hub/<integration>/...")
        payload = json.dumps(body).encode()
        data = (
            f"POST {self._prefix}/webhook/{path} HTTP/1.1\r\n{self._head}"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode("latin-1") + payload
        conn = self._idle.take() or await self._connect()
        try:
            got = await conn.exchange(data, timeout_s or self.timeout_s)
        except TimeoutError:
            raise OutcomeUnknown("no answer from n8n (timed out)") from None
        except Lost as exc:
            raise OutcomeUnknown(f"no answer from n8n ({exc})") from None
        self._idle.put(conn, got.keep_alive)
        return answer(got.status, got.body, path)

    async def _connect(self) -> Connection:
        try:
            return await connect(self._host, self._port, self._ssl)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise NotSent(
                f"n8n is not reachable at {self.base_url} ({type(exc).__name__})"
            ) from None

    async def aclose(self) -> None:
        """Close idle connections."""
        self._idle.close()


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
