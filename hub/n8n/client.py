"""A small synchronous client for n8n's public REST API (``/api/v1``, ``X-N8N-API-KEY``).

Errors carry the operation that failed: :class:`N8nError` (``status`` is the HTTP status or
``None``), :class:`N8nUnavailable` when n8n cannot be reached at all. Request bodies are
never logged or put into error messages; for credentials, any credential value n8n echoes
in an error is masked as well.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

#: Top-level workflow fields the public API accepts on create / update; it rejects the
#: read-only ones (id, active, tags, versionId, ...).
WORKFLOW_WRITE_FIELDS = ("name", "nodes", "connections", "settings")


class N8nError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class N8nUnavailable(N8nError):
    """n8n did not answer (connection refused, DNS, timeout)."""


def workflow_payload(wf: Mapping[str, Any]) -> dict[str, Any]:
    """Strip an n8n export to what the public API takes (settings defaults to ``{}``)."""
    out = {k: wf[k] for k in WORKFLOW_WRITE_FIELDS if k in wf}
    out.setdefault("settings", {})
    missing = [k for k in ("name", "nodes", "connections") if k not in out]
    if missing:
        raise ValueError(f"workflow is missing required field(s): {', '.join(missing)}")
    return out


def _mask(text: str, secrets: list[str]) -> str:
    for s in sorted(secrets, key=len, reverse=True):
        if s and len(s) >= 3:
            text = text.replace(s, "***")
    return text


def _secret_strings(data: Any) -> list[str]:
    if isinstance(data, Mapping):
        return [s for v in data.values() for s in _secret_strings(v)]
    if isinstance(data, list | tuple):
        return [s for v in data for s in _secret_strings(v)]
    return [str(data)] if data is not None and not isinstance(data, bool) else []


class N8nClient:
    """``N8nClient("http://127.0.0.1:5678", api_key)``; use as a context manager or call
    :meth:`close`."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"X-N8N-API-KEY": api_key, "Accept": "application/json"},
        )

    def __repr__(self) -> str:  # never show the key
        return f"N8nClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> N8nClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        ok: tuple[int, ...] = (200,),
        secrets: list[str] | None = None,
    ) -> httpx.Response:
        t0 = time.perf_counter()
        try:
            resp = self._http.request(method, path, json=json, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise N8nUnavailable(
                f"n8n {operation}: n8n at {self.base_url} is not reachable ({type(exc).__name__}: "
                f"{exc}). Is it running? Start the local one (hub.n8n.local.LocalN8n) or check "
                f"the configured n8n URL."
            ) from exc
        except httpx.TimeoutException as exc:
            raise N8nUnavailable(
                f"n8n {operation}: no answer from {self.base_url} within the timeout "
                f"({type(exc).__name__}); n8n may be overloaded or hung."
            ) from exc
        except httpx.HTTPError as exc:
            raise N8nUnavailable(
                f"n8n {operation}: HTTP error talking to {self.base_url}: {exc}"
            ) from exc
        log.debug(
            "n8n %s: %s %s -> %s in %.0f ms",
            operation,
            method,
            path,
            resp.status_code,
            (time.perf_counter() - t0) * 1000,
        )
        if resp.status_code not in ok:
            detail = self._detail(resp)
            if secrets:
                detail = _mask(detail, secrets)
            hint = ""
            if resp.status_code == 401:
                hint = " (the API key is missing, wrong or revoked)"
            raise N8nError(
                f"n8n {operation} failed: HTTP {resp.status_code}{hint}: {detail}",
                resp.status_code,
            )
        return resp

    @staticmethod
    def _detail(resp: httpx.Response) -> str:
        try:
            body = resp.json()
        except ValueError:
            return resp.text[:300] or resp.reason_phrase
        if isinstance(body, dict) and "message" in body:
            return str(body["message"])[:300]
        return str(body)[:300]

    # ------------------------------------------------------------------ workflows
    def list_workflows(self, *, active: bool | None = None) -> list[dict[str, Any]]:
        """All workflows (follows ``nextCursor`` pagination)."""
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 250}
        if active is not None:
            params["active"] = "true" if active else "false"
        while True:
            body = self._request("list_workflows", "GET", "/api/v1/workflows", params=params).json()
            out.extend(body.get("data", []))
            cursor = body.get("nextCursor")
            if not cursor:
                return out
            params["cursor"] = cursor

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        return self._request(
            f"get_workflow({workflow_id})", "GET", f"/api/v1/workflows/{workflow_id}"
        ).json()

    def create_workflow(self, wf: Mapping[str, Any]) -> dict[str, Any]:
        """Create from an n8n export (stripped to name/nodes/connections/settings); returns
        the created workflow including its ``id``."""
        payload = workflow_payload(wf)
        return self._request(
            f"create_workflow({payload['name']!r})", "POST", "/api/v1/workflows", json=payload
        ).json()

    def update_workflow(self, workflow_id: str, wf: Mapping[str, Any]) -> dict[str, Any]:
        payload = workflow_payload(wf)
        return self._request(
            f"update_workflow({workflow_id})",
            "PUT",
            f"/api/v1/workflows/{workflow_id}",
            json=payload,
        ).json()

    def publish(self, workflow_id: str) -> dict[str, Any]:
        """Publish (activate) the workflow's latest version: ``/publish`` (n8n 2.x), falling
        back to the older ``/activate``."""
        op = f"publish({workflow_id})"
        try:
            return self._request(
                op, "POST", f"/api/v1/workflows/{workflow_id}/publish", json={}
            ).json()
        except N8nError as exc:
            # an n8n without the route answers 404/405; a missing workflow also gives 404,
            # and the fallback then reports that
            if exc.status not in (404, 405):
                raise
        return self._request(
            op, "POST", f"/api/v1/workflows/{workflow_id}/activate", json={}
        ).json()

    def deactivate(self, workflow_id: str) -> dict[str, Any]:
        """Unpublish: ``/unpublish`` (n8n 2.x), falling back to ``/deactivate``."""
        op = f"deactivate({workflow_id})"
        try:
            return self._request(op, "POST", f"/api/v1/workflows/{workflow_id}/unpublish").json()
        except N8nError as exc:
            # an n8n without the route answers 404/405; a missing workflow also gives 404,
            # and the fallback then reports that
            if exc.status not in (404, 405):
                raise
        return self._request(op, "POST", f"/api/v1/workflows/{workflow_id}/deactivate").json()

    def delete_workflow(self, workflow_id: str) -> None:
        self._request(
            f"delete_workflow({workflow_id})", "DELETE", f"/api/v1/workflows/{workflow_id}"
        )

    # ------------------------------------------------------------------ credentials
    def create_credential(self, name: str, type: str, data: Mapping[str, Any]) -> str:
        """Create a credential and return its id. ``data`` is never logged."""
        resp = self._request(
            f"create_credential({name!r}, {type!r})",
            "POST",
            "/api/v1/credentials",
            json={"name": name, "type": type, "data": dict(data)},
            secrets=_secret_strings(data),
        )
        return str(resp.json()["id"])

    def delete_credential(self, credential_id: str) -> None:
        self._request(
            f"delete_credential({credential_id})", "DELETE", f"/api/v1/credentials/{credential_id}"
        )

    def get_credential(self, credential_id: str) -> dict[str, Any] | None:
        """A credential's metadata (never its data), or None when n8n has no such id."""
        try:
            return self._request(
                f"get_credential({credential_id})", "GET", f"/api/v1/credentials/{credential_id}"
            ).json()
        except N8nError as exc:
            if exc.status == 404:
                return None
            raise

    def update_credential(self, credential_id: str, data: dict[str, Any]) -> bool:
        """Replace a credential's data; False when n8n has no such credential."""
        try:
            self._request(
                f"update_credential({credential_id})",
                "PATCH",
                f"/api/v1/credentials/{credential_id}",
                json={"data": data},
                secrets=[str(v) for v in data.values()],
            )
        except N8nError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def find_workflow(self, workflow_id: str) -> dict[str, Any] | None:
        """A workflow, or None when n8n has no such id."""
        try:
            return self.get_workflow(workflow_id)
        except N8nError as exc:
            if exc.status == 404:
                return None
            raise

    # ------------------------------------------------------------------ health
    def health(self) -> bool:
        """True when n8n answers ``/healthz/readiness`` with 200 (database migrated)."""
        try:
            return self._http.get("/healthz/readiness").status_code == 200
        except httpx.HTTPError:
            return False
