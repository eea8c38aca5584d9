"""Headless n8n provisioning: owner account and a public-API key, without the editor UI.

* Owner: ``POST /rest/owner/setup`` on a new instance; once an owner exists that call fails
  and ``POST /rest/login`` is used instead. Both set the ``n8n-auth`` cookie (plain http
  needs ``N8N_SECURE_COOKIE=false``, which :class:`hub.n8n.local.LocalN8n` sets).
* API key: ``GET /rest/api-keys/scopes`` then ``POST /rest/api-keys`` with every scope the
  owner may grant; n8n shows the raw key once, in ``data.rawApiKey``.
"""

from __future__ import annotations

import time

import httpx


class ProvisionError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:200]
    return str(body)[:200]


def provision_owner_and_key(
    base_url: str,
    email: str,
    password: str,
    *,
    label: str | None = None,
    first_name: str = "Hub",
    last_name: str = "Owner",
    timeout: float = 30.0,
) -> str:
    """Set up the owner (or log in as it) and return a new public-API key.

    ``password`` must meet n8n's rules (8-64 characters, a digit and an uppercase letter).
    Each call creates a new key; ``label`` defaults to ``agent-hub-<unix time>`` (n8n
    rejects duplicate labels per user).
    """
    base = base_url.rstrip("/")
    label = label or f"agent-hub-{int(time.time() * 1000)}"
    headers = {"Accept": "application/json"}
    try:
        with httpx.Client(base_url=base, timeout=timeout, headers=headers) as http:
            resp = http.post(
                "/rest/owner/setup",
                json={
                    "email": email,
                    "firstName": first_name,
                    "lastName": last_name,
                    "password": password,
                },
            )
            if resp.status_code != 200:
                setup_detail = f"{resp.status_code} {_detail(resp)}"
                resp = http.post(
                    "/rest/login", json={"emailOrLdapLoginId": email, "password": password}
                )
                if resp.status_code != 200:
                    raise ProvisionError(
                        f"n8n owner setup failed ({setup_detail}) and login as {email} failed "
                        f"({resp.status_code} {_detail(resp)}): is this n8n's owner a different "
                        f"account, or the password wrong?",
                        resp.status_code,
                    )
            resp = http.get("/rest/api-keys/scopes")
            if resp.status_code != 200:
                raise ProvisionError(
                    f"n8n: listing API-key scopes failed: {resp.status_code} {_detail(resp)}",
                    resp.status_code,
                )
            scopes = resp.json()["data"]
            resp = http.post(
                "/rest/api-keys", json={"label": label, "scopes": scopes, "expiresAt": None}
            )
            if resp.status_code != 200:
                raise ProvisionError(
                    f"n8n: creating API key {label!r} failed: {resp.status_code} {_detail(resp)}",
                    resp.status_code,
                )
            return str(resp.json()["data"]["rawApiKey"])
    except httpx.ConnectError as exc:
        raise ProvisionError(
            f"n8n at {base} is not reachable ({exc}); start it first (hub.n8n.local.LocalN8n)"
        ) from exc
