"""An MCP server that needs OAuth, built with the SDK's own resource-server support: it
serves RFC 9728 metadata naming a real oidc-provider, answers 401 with the metadata hint,
and checks each bearer token by introspection at that server (RFC 7662), accepting only
tokens issued for its own URL (RFC 8707)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from hub.sandbox.authserver import AuthServer, OAuthClient
from tests.federation.servers import OPEN, serve
from tests.live_hub import free_port


@dataclass
class Introspector:
    """The server's token check: RFC 7662 introspection, with its own client."""

    issuer: AuthServer
    client: OAuthClient
    seen: list[str] = field(default_factory=list)

    async def verify_token(self, token: str) -> AccessToken | None:
        """A current token's details, or None (the SDK answers 401)."""
        self.seen.append(token)
        async with httpx.AsyncClient(timeout=10) as c:
            r = await c.post(
                self.issuer.introspection_url,
                data={"token": token},
                auth=(self.client.client_id, self.client.client_secret),
            )
        body = r.json()
        if body.get("active") is not True:
            return None
        aud = body.get("aud")
        return AccessToken(
            token=token,
            client_id=str(body.get("client_id")),
            scopes=str(body.get("scope") or "").split(),
            expires_at=body.get("exp"),
            resource=aud if isinstance(aud, str) else None,
            subject=body.get("sub"),
        )


@contextmanager
def protected_server(
    issuer: AuthServer, rs_client: OAuthClient
) -> Iterator[tuple[str, Introspector]]:
    """Serve the protected server; yields its /mcp URL and its token check."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    check = Introspector(issuer, rs_client)
    m = MCPServer(
        "protected",
        auth=AuthSettings(
            issuer_url=issuer.url,
            resource_server_url=url,
            validate_token_resource=True,
            # Listed in its RFC 9728 metadata; tokens without it are refused (403).
            required_scopes=["mcp:tools"],
        ),
        token_verifier=check,
    )

    @m.tool(description="Who the bearer token was issued to (its subject).")
    def whoami() -> str:
        tok = get_access_token()
        return f"subject={tok.subject if tok else None}"

    @m.tool(description="Repeat the given text back.")
    def echo(text: str) -> str:
        return text

    with serve(m.streamable_http_app(transport_security=OPEN), port):
        yield url, check
