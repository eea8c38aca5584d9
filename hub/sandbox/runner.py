"""The vendor sandbox: one Prism mock per vendor spec behind one recording reverse proxy.

``Sandbox(prism_bin, base_port).start()`` runs ``prism mock <spec> -p <port> -h 127.0.0.1``
for each spec in ``hub/sandbox/specs`` (request validation on, ``--errors`` off: Square's own
examples break its schemas) and a proxy on one port that routes ``/<vendor>/<rest>`` to that
vendor's Prism. A connection's base URL is therefore ``http://127.0.0.1:<proxy>/<vendor>``
in tests and the vendor's real API in production; the workflow is the same.

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

Why the proxy runs in-process (uvicorn in a background thread) rather than as a separate
process: tests read recordings and inject faults with direct method calls (no HTTP round
trip, no serialisation), it starts in milliseconds (Prism's start-up dominates), and its
life is tied to the ``Sandbox`` object, so nothing is left behind when a test session dies.
The HTTP endpoints exist for the n8n side and for ``python -m hub.sandbox``. Prism runs as
separate Node processes (one per spec, each in its own process group).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.core.processes import die_with_parent_hook, free_port, log_tail, send_signal
from hub.sandbox.routes import local_route, response_extras

SPECS_DIR = Path(__file__).resolve().parent / "specs"
SPEC_SUFFIXES = (".json", ".yaml", ".yml")
MAX_RECORDS = 10_000

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

_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()

#: Integration slugs whose sandbox vendor (spec file) has another name; Sandbox methods
#: accept either.
VENDOR_ALIASES = {"google_maps": "google_maps_geocode"}


class SandboxError(RuntimeError):
    pass


def available_vendors(specs_dir: Path = SPECS_DIR) -> dict[str, Path]:
    """Vendor name (spec file name without extension) -> spec path."""
    return {
        p.stem: p for p in sorted(specs_dir.iterdir()) if p.suffix in SPEC_SUFFIXES and p.is_file()
    }


# --------------------------------------------------------------------------- records


@dataclass
class RecordedRequest:
    id: int
    vendor: str
    method: str
    path: str  # vendor-relative, raw (percent-encoded) as received, e.g. /v3/mail/send
    query: str  # raw query string without '?'
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    status: int
    violations: list[dict[str, Any]]
    response_headers: dict[str, str]
    response_body: bytes
    fault: bool = False
    at: float = 0.0
    duration_ms: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    @property
    def form(self) -> dict[str, list[str]]:
        """Fields of a urlencoded or multipart body ({} otherwise); file parts give their
        file name."""
        if self.content_type == "application/x-www-form-urlencoded":
            return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        if self.content_type == "multipart/form-data":
            return _parse_multipart(self.headers.get("content-type", ""), self.body)
        return {}

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def response_json(self) -> Any:
        return json.loads(self.response_body) if self.response_body else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "vendor": self.vendor,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "body_base64": base64.b64encode(self.body).decode(),
            "form": self.form,
            "status": self.status,
            "violations": self.violations,
            "response_headers": self.response_headers,
            "response_body": self.response_body.decode("utf-8", "replace"),
            "fault": self.fault,
            "at": self.at,
            "duration_ms": round(self.duration_ms, 2),
        }
        return out


def _parse_multipart(content_type: str, body: bytes) -> dict[str, list[str]]:
    msg = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    )
    out: dict[str, list[str]] = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        if filename:
            value = f"<file {filename}>"
        else:
            payload = part.get_payload(decode=True) or b""
            value = payload.decode(part.get_content_charset() or "utf-8", "replace")
        out.setdefault(str(name), []).append(value)
    return out


# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    vendor: str
    status: int
    times: int = 1
    retry_after: int | None = None
    body: Any = None  # overrides the vendor-shaped body
    method: str | None = None
    path_prefix: str | None = None
    # Seconds to wait before answering; with status 0 the request then goes on to Prism
    # (a slow vendor rather than a failing one).
    delay_s: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path_prefix and not path.startswith(self.path_prefix))

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "status": self.status,
            "times": self.times,
            "retry_after": self.retry_after,
            "method": self.method,
            "path_prefix": self.path_prefix,
            "body": self.body,
            "delay_s": self.delay_s,
        }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def vendor_error_body(vendor: str, status: int) -> dict[str, Any]:
    """An error body in the shape the vendor's real API uses for this status."""
    phrase = _phrase(status)
    if vendor == "twilio":
        code, message = {
            401: (20003, "Authenticate"),
            403: (20403, "Forbidden"),
            404: (20404, "The requested resource was not found"),
            429: (20429, "Too Many Requests"),
            503: (20503, "Service Unavailable"),
        }.get(status, (20500, "Internal Server Error") if status >= 500 else (21000, phrase))
        return {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    if vendor == "sendgrid":
        message = {
            401: "The provided authorization grant is invalid, expired, or revoked",
            403: "access forbidden",
            429: "too many requests",
        }.get(status, "internal server error" if status >= 500 else phrase.lower())
        return {"errors": [{"field": None, "message": message, "help": None}]}
    if vendor == "mailgun":
        message = {
            401: "Invalid private key",
            403: "Domain not allowed",
            429: "Too many requests",
        }.get(status, "Internal server error" if status >= 500 else phrase)
        return {"message": message}
    if vendor == "stripe":
        if status == 401:
            err = {
                "type": "invalid_request_error",
                "message": "Invalid API Key provided: sk_test_********************",
            }
        elif status == 429:
            err = {
                "type": "rate_limit_error",
                "code": "rate_limit",
                "message": "Too many requests hit the API too quickly.",
            }
        elif status == 402:
            err = {
                "type": "card_error",
                "code": "card_declined",
                "message": "Your card was declined.",
            }
        elif status >= 500:
            err = {"type": "api_error", "message": "Something went wrong on Stripe's end."}
        else:
            err = {"type": "invalid_request_error", "message": phrase}
        return {"error": err}
    if vendor == "square":
        category, code = {
            401: ("AUTHENTICATION_ERROR", "UNAUTHORIZED"),
            403: ("AUTHENTICATION_ERROR", "FORBIDDEN"),
            404: ("INVALID_REQUEST_ERROR", "NOT_FOUND"),
            429: ("RATE_LIMIT_ERROR", "RATE_LIMITED"),
            503: ("API_ERROR", "SERVICE_UNAVAILABLE"),
        }.get(
            status,
            ("API_ERROR", "INTERNAL_SERVER_ERROR")
            if status >= 500
            else ("INVALID_REQUEST_ERROR", "BAD_REQUEST"),
        )
        return {"errors": [{"category": category, "code": code, "detail": phrase}]}
    if vendor == "google_maps_geocode":
        # The real Geocoding API usually answers 200 with one of these statuses; use a
        # fault with status 200 and this body to get that exact behaviour.
        st, message = {
            401: ("REQUEST_DENIED", "The provided API key is invalid."),
            403: ("REQUEST_DENIED", "This API project is not authorized to use this API."),
            429: ("OVER_QUERY_LIMIT", "You have exceeded your rate-limit for this API."),
        }.get(
            status,
            ("UNKNOWN_ERROR", "Server error") if status >= 500 else ("INVALID_REQUEST", phrase),
        )
        return {"error_message": message, "results": [], "status": st}
    return {"error": {"status": status, "message": phrase}}


# --------------------------------------------------------------------------- state + app


class SandboxState:
    """Thread-safe recordings and faults shared by the proxy thread and the test thread."""

    def __init__(self, upstreams: dict[str, str]):
        self.upstreams = dict(upstreams)
        self._lock = threading.Lock()
        self._records: deque[RecordedRequest] = deque(maxlen=MAX_RECORDS)
        self._faults: dict[str, list[Fault]] = {}
        self._next_id = 1

    def record(self, rec: RecordedRequest) -> RecordedRequest:
        with self._lock:
            rec.id = self._next_id
            self._next_id += 1
            self._records.append(rec)
        return rec

    def requests(self, vendor: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._records if vendor is None or r.vendor == vendor]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def add_fault(self, fault: Fault) -> None:
        if fault.vendor not in self.upstreams:
            raise ValueError(
                f"unknown sandbox vendor {fault.vendor!r}; known: {', '.join(self.upstreams)}"
            )
        if not (100 <= fault.status <= 599 or (fault.status == 0 and fault.delay_s > 0)):
            raise ValueError(
                f"status must be an HTTP status (100-599), or 0 with delay_s, not {fault.status}"
            )
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.setdefault(fault.vendor, []).append(fault)

    def take_fault(self, vendor: str, method: str, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(vendor) or []
            for fault in queue:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.remove(fault)
                    return fault
        return None

    def faults(self) -> list[Fault]:
        with self._lock:
            return [f for q in self._faults.values() for f in q]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()


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
        holder["client"] = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=5.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        try:
            yield
        finally:
            await holder["client"].aclose()

    async def index(request: Request) -> Response:
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
        vendor = request.query_params.get("vendor") or None
        return JSONResponse({"requests": [r.to_dict() for r in state.requests(vendor)]})

    async def clear_requests(request: Request) -> Response:
        state.clear()
        return Response(status_code=204)

    async def add_fault(request: Request) -> Response:
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
        return JSONResponse({"faults": [f.to_dict() for f in state.faults()]})

    async def clear_faults(request: Request) -> Response:
        state.clear_faults()
        return Response(status_code=204)

    async def proxy(request: Request) -> Response:
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
            violations: list,
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


# --------------------------------------------------------------------------- server thread


class _ProxyThread:
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
        self.server.should_exit = True
        self.thread.join(10)


# --------------------------------------------------------------------------- sandbox


@dataclass
class _Mock:
    vendor: str
    spec: Path
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    log_fh: Any = field(default=None, repr=False)


class Sandbox:
    """Prism mocks for the vendor specs plus the recording proxy.

    ``base_port``: 0 picks free ports; otherwise the proxy listens on ``base_port`` and the
    mocks on ``base_port+1 ...`` (vendors in alphabetical order).
    """

    def __init__(
        self,
        prism_bin: str | os.PathLike[str],
        base_port: int = 0,
        *,
        vendors: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        specs_dir: Path = SPECS_DIR,
        log_dir: Path | None = None,
        startup_timeout: float = 90.0,
        die_with_parent: bool = False,
    ):
        self.prism_bin = Path(prism_bin)
        self.base_port = int(base_port)
        self.host = host
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        known = available_vendors(specs_dir)
        wanted = list(vendors) if vendors is not None else list(known)
        unknown = [v for v in wanted if v not in known]
        if unknown:
            raise SandboxError(
                f"no spec for vendor(s) {', '.join(unknown)} in {specs_dir}; "
                f"available: {', '.join(known)}"
            )
        self._own_log_dir = log_dir is None
        self._keep_logs = False
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="hub-sandbox-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._mocks = {
            v: _Mock(vendor=v, spec=known[v], port=0, log_path=self.log_dir / f"prism-{v}.log")
            for v in sorted(wanted)
        }
        self.state: SandboxState | None = None
        self._proxy: _ProxyThread | None = None
        self.proxy_port: int | None = None

    # ------------------------------------------------------------------ urls
    @property
    def vendors(self) -> list[str]:
        return list(self._mocks)

    @property
    def proxy_url(self) -> str:
        if self.proxy_port is None:
            raise SandboxError("the sandbox is not started")
        return f"http://{self.host}:{self.proxy_port}"

    def vendor(self, name: str) -> str:
        """The sandbox vendor for a vendor or integration name (``google_maps`` ->
        ``google_maps_geocode``)."""
        return VENDOR_ALIASES.get(name, name)

    def base_url(self, vendor: str) -> str:
        """What a connection uses as the vendor's API base URL (an integration slug works
        too)."""
        vendor = self.vendor(vendor)
        if vendor not in self._mocks:
            raise SandboxError(
                f"unknown sandbox vendor {vendor!r}; known: {', '.join(self._mocks)}"
            )
        return f"{self.proxy_url}/{vendor}"

    def prism_url(self, vendor: str) -> str:
        return f"http://{self.host}:{self._mocks[vendor].port}"

    # ------------------------------------------------------------------ recordings / faults
    def _state(self) -> SandboxState:
        if self.state is None:
            raise SandboxError("the sandbox is not started")
        return self.state

    def requests(self, vendor: str | None = None) -> list[RecordedRequest]:
        return self._state().requests(self.vendor(vendor) if vendor else None)

    def clear(self) -> None:
        """Forget recorded requests and pending faults."""
        self._state().clear()
        self._state().clear_faults()

    def fault(
        self,
        vendor: str,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
        *,
        body: Any = None,
        method: str | None = None,
        path_prefix: str | None = None,
        delay_s: float = 0.0,
    ) -> None:
        """The next ``times`` requests to ``vendor`` answer ``status`` (vendor-shaped body);
        with ``delay_s`` they wait first, and status 0 then passes them on to the vendor mock."""
        self._state().add_fault(
            Fault(
                self.vendor(vendor), status, times, retry_after, body, method, path_prefix, delay_s
            )
        )

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        if self.state is not None:
            return self
        _LIVE.add(self)
        try:
            self._start_mocks()
            self.state = SandboxState({v: self.prism_url(v) for v in self._mocks})
            proxy_port = self.base_port if self.base_port else 0
            app = build_app(self.state)
            self._proxy = _ProxyThread(app, self.host, proxy_port)
            self.proxy_port = self._proxy.start()
        except BaseException:
            self._keep_logs = True  # the error message names them
            self.stop()
            raise
        return self

    def _start_mocks(self) -> None:
        if not self.prism_bin.exists():
            raise SandboxError(
                f"prism not found at {self.prism_bin} (run hub.sandbox.install.ensure_prism())"
            )
        env = dict(os.environ)
        env.setdefault("NO_COLOR", "1")
        for i, mock in enumerate(self._mocks.values(), start=1):
            mock.port = self.base_port + i if self.base_port else free_port(self.host)
            mock.log_fh = open(mock.log_path, "ab")  # noqa: SIM115 - closed in stop()
            mock.proc = subprocess.Popen(
                [
                    str(self.prism_bin),
                    "mock",
                    str(mock.spec),
                    "-p",
                    str(mock.port),
                    "-h",
                    self.host,
                ],
                stdin=subprocess.DEVNULL,
                stdout=mock.log_fh,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent_hook(self.die_with_parent),
            )
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as client:
            for mock in self._mocks.values():
                while True:
                    assert mock.proc is not None
                    if mock.proc.poll() is not None:
                        raise SandboxError(
                            f"prism for {mock.vendor} ({mock.spec.name}) exited with "
                            f"{mock.proc.returncode} on port {mock.port}; log {mock.log_path}:\n"
                            + log_tail(mock.log_path, 30, missing="(no log)")
                        )
                    try:
                        client.get(f"http://{self.host}:{mock.port}/__sandbox_probe")
                        break  # any HTTP answer (404) means it listens
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise SandboxError(
                            f"prism for {mock.vendor} did not answer on port {mock.port} within "
                            f"{self.startup_timeout:.0f} s; log {mock.log_path}:\n"
                            + log_tail(mock.log_path, 30, missing="(no log)")
                        )
                    time.sleep(0.1)

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        running = [(m, m.proc) for m in self._mocks.values() if m.proc is not None]
        for _, proc in running:
            send_signal(proc.pid, signal.SIGTERM, group=True)
        deadline = time.monotonic() + 5
        for m, proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            send_signal(proc.pid, signal.SIGKILL, group=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            m.proc = None
        for m in self._mocks.values():
            if m.log_fh is not None:
                m.log_fh.close()
                m.log_fh = None
        self.state = None
        self.proxy_port = None
        if self._own_log_dir and not self._keep_logs:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:  # pragma: no cover - interpreter shutdown
    for sb in list(_LIVE):
        with contextlib.suppress(Exception):
            sb.stop()
