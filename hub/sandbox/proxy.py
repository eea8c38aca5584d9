"""The sandbox's recording reverse proxy: ``/<vendor>/<rest>`` to that vendor's Prism.

The proxy forwards method, headers, query and raw body and returns Prism's answer as is
(status, headers including ``sl-violations``, raw body bytes). Prism puts violations in the
``sl-violations`` header only when the spec declares the error response; when it generates
its own ``application/problem+json`` 422 it lists them only in the body's ``validation``
field, and the proxy then adds an ``sl-violations`` header with that same list, so every
rejected request carries the header. Every request is recorded in memory (vendor, method,
path, query, headers, body bytes, response status and body, violations):

* ``GET /__sandbox/requests?vendor=twilio`` lists them, ``DELETE /__sandbox/requests`` clears.
* ``POST /__sandbox/faults`` ``{vendor, status, times, retry_after?, body?, method?,
  path_prefix?}`` makes the next ``times`` matching requests to that vendor answer ``status``
  with a vendor-shaped error body (and ``Retry-After`` when given) without reaching Prism:
  auth failure (401), rate limit (429), outage (503). ``GET``/``DELETE /__sandbox/faults``.
* ``GET /__sandbox`` lists the vendors and their URLs.

A few answers come from the sandbox itself rather than Prism (``hub/sandbox/routes.py``):
operations the trimmed specs lack (Square refunds) and response headers Prism cannot produce
(SendGrid's ``X-Message-Id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sandbox.errors import SandboxError
from hub.sandbox.faults import Fault, vendor_error_body
from hub.sandbox.records import RecordedRequest
from hub.sandbox.routes import local_route, response_extras
from hub.sandbox.state import SandboxState

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _headers_dict(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in raw:
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _violations(
    status: int, headers: dict[str, str], body: bytes
) -> tuple[list[dict[str, Any]], bool]:
    """(violations, found only in Prism's problem+json body)."""
    raw = headers.get("sl-violations")
    if raw:
        try:
            parsed = json.loads(raw)
            return (parsed if isinstance(parsed, list) else [parsed]), False
        except ValueError:
            return [{"message": raw}], False
    if status >= 400 and headers.get("content-type", "").startswith("application/problem+json"):
        try:
            doc = json.loads(body)
        except ValueError:
            return [], False
        validation = doc.get("validation") if isinstance(doc, dict) else None
        if isinstance(validation, list) and validation:
            return validation, True
    return [], False


def build_app(state: SandboxState) -> Starlette:
    """The proxy as an ASGI app (also usable with any ASGI server)."""
    holder: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        """One upstream client for the app's life (connections to Prism are reused)."""
        holder["client"] = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=5.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        try:
            yield
        finally:
            await holder["client"].aclose()

    async def index(request: Request) -> Response:
        """The vendors, their base URLs through the proxy and their Prism URLs."""
        proxy_base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "vendors": {
                    v: {"base_url": f"{proxy_base}/{v}", "prism": up}
                    for v, up in state.upstreams.items()
                }
            }
        )

    async def list_requests(request: Request) -> Response:
        """The recordings, of ``?vendor=`` or all."""
        vendor = request.query_params.get("vendor") or None
        return JSONResponse({"requests": [r.to_dict() for r in state.requests(vendor)]})

    async def clear_requests(request: Request) -> Response:
        """Forget the recordings."""
        state.clear()
        return Response(status_code=204)

    async def add_fault(request: Request) -> Response:
        """Queue the fault the JSON body describes (400 when it is not one)."""
        try:
            doc = await request.json()
            fault = Fault(
                vendor=str(doc["vendor"]),
                status=int(doc["status"]),
                times=int(doc.get("times", 1)),
                retry_after=(
                    int(doc["retry_after"]) if doc.get("retry_after") is not None else None
                ),
                body=doc.get("body"),
                method=doc.get("method"),
                path_prefix=doc.get("path_prefix"),
                delay_s=float(doc.get("delay_s", 0)),
            )
            state.add_fault(fault)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse(
                {
                    "error": f"bad fault: {exc}. Send JSON {{vendor, status, times, "
                    f"retry_after?, body?, method?, path_prefix?, delay_s?}}"
                },
                status_code=400,
            )
        return JSONResponse({"fault": fault.to_dict()}, status_code=201)

    async def list_faults(request: Request) -> Response:
        """The faults still queued."""
        return JSONResponse({"faults": [f.to_dict() for f in state.faults()]})

    async def clear_faults(request: Request) -> Response:
        """Drop the queued faults."""
        state.clear_faults()
        return Response(status_code=204)

    async def proxy(request: Request) -> Response:
        """Answer with a fault, a local route or the vendor's Prism, and record it."""
        vendor = request.path_params["vendor"]
        upstream = state.upstreams.get(vendor)
        if upstream is None:
            return JSONResponse(
                {
                    "error": f"unknown sandbox vendor {vendor!r}; use /<vendor>/<path> with one "
                    f"of: {', '.join(state.upstreams)}"
                },
                status_code=404,
            )
        t0 = time.perf_counter()
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        full = raw_path.decode("latin-1")
        rest = full[len(f"/{vendor}") :] or "/"
        query = request.url.query
        body = await request.body()
        in_headers = [
            (k, v)
            for k, v in request.headers.raw
            if k.decode("latin-1").lower() not in _HOP_BY_HOP | {"host", "content-length"}
        ]
        rec_headers = _headers_dict(request.headers.raw)

        def record(
            status: int,
            violations: list[dict[str, Any]],
            headers: dict[str, str],
            content: bytes,
            *,
            fault: bool = False,
        ) -> None:
            """Keep what was asked and what was answered, for tests to assert on."""
            state.record(
                RecordedRequest(
                    id=0,
                    vendor=vendor,
                    method=request.method,
                    path=rest,
                    query=query,
                    headers=rec_headers,
                    body=body,
                    status=status,
                    violations=violations,
                    response_headers=headers,
                    response_body=content,
                    fault=fault,
                    at=time.time(),
                    duration_ms=(time.perf_counter() - t0) * 1000,
                )
            )

        fault = state.take_fault(vendor, request.method, rest)
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.status:
            payload = (
                fault.body if fault.body is not None else vendor_error_body(vendor, fault.status)
            )
            content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            headers = {"content-type": "application/json"}
            if fault.retry_after is not None:
                headers["retry-after"] = str(fault.retry_after)
            resp = Response(content=content, status_code=fault.status, headers=headers)
            record(fault.status, [], headers, content, fault=True)
            return resp

        check = state.token_checks.get(vendor)
        if check is not None:
            auth = request.headers.get("authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            if not token or not await asyncio.to_thread(check, token):
                content = json.dumps(vendor_error_body(vendor, 401)).encode()
                headers = {"content-type": "application/json", "www-authenticate": "Bearer"}
                record(401, [], headers, content)
                return Response(content=content, status_code=401, headers=headers)

        handler = local_route(vendor, request.method, rest)
        if handler is not None:
            answer = handler(rec_headers, body)
            content = answer.content()
            headers = answer.response_headers()
            record(answer.status, answer.violations, headers, content)
            return Response(content=content, status_code=answer.status, headers=headers)

        url = upstream + rest + (f"?{query}" if query else "")
        client = holder["client"]
        try:
            up_req = client.build_request(request.method, url, headers=in_headers, content=body)
            up = await client.send(up_req, stream=True)
            try:
                raw_body = b"".join([chunk async for chunk in up.aiter_raw()])
            finally:
                await up.aclose()
        except httpx.HTTPError as exc:
            why = f"{type(exc).__name__}: {exc}"
            content = json.dumps(
                {"error": f"sandbox: {vendor} mock at {upstream} failed: {why}"}
            ).encode()
            record(502, [], {}, content)
            return Response(content, status_code=502, media_type="application/json")

        out_headers = [
            (k, v)
            for k, v in up.headers.raw
            if k.decode("latin-1").lower() not in _HOP_BY_HOP | {"content-length"}
        ]
        resp_headers = _headers_dict(up.headers.raw)
        violations, body_only = _violations(up.status_code, resp_headers, raw_body)
        if body_only:
            value = json.dumps(violations, separators=(",", ":"))
            out_headers.append((b"sl-violations", value.encode("latin-1", "replace")))
            resp_headers["sl-violations"] = value
        for name, value in response_extras(vendor, request.method, rest, up.status_code).items():
            if name not in resp_headers:
                out_headers.append((name.encode("latin-1"), value.encode("latin-1")))
                resp_headers[name] = value
        out_headers.append((b"content-length", str(len(raw_body)).encode()))
        resp = Response(content=raw_body, status_code=up.status_code)
        resp.raw_headers = out_headers
        record(up.status_code, violations, resp_headers, raw_body)
        return resp

    routes = [
        Route("/__sandbox", index, methods=["GET"]),
        Route("/__sandbox/requests", list_requests, methods=["GET"]),
        Route("/__sandbox/requests", clear_requests, methods=["DELETE"]),
        Route("/__sandbox/faults", add_fault, methods=["POST"]),
        Route("/__sandbox/faults", list_faults, methods=["GET"]),
        Route("/__sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/{vendor}", proxy, methods=_METHODS),
        Route("/{vendor}/{rest:path}", proxy, methods=_METHODS),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


class ProxyServer:
    """The proxy app served by uvicorn in a daemon thread of this process."""

    def __init__(self, app: Starlette, host: str, port: int):
        self.config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            server_header=False,  # Prism's own Server/Date headers pass through
            date_header=False,
        )
        self.server = uvicorn.Server(self.config)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="hub-sandbox-proxy", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve())
        except BaseException as exc:  # SystemExit from uvicorn on bind failure
            self.error = exc

    def start(self, timeout: float = 15.0) -> int:
        """Serve in the background; returns the port once listening (SandboxError if not)."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise SandboxError(
                    f"the sandbox proxy could not start on {self.config.host}:{self.config.port} "
                    f"({self.error!r}); is the port in use?"
                )
            time.sleep(0.01)
        sock = self.server.servers[0].sockets[0]
        return int(sock.getsockname()[1])

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(10)
