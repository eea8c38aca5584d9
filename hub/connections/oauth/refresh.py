"""Single-flight token refresh (SECURITY 16-18, DESIGN 9b).

One refresh per connection at a time: an asyncio lock per connection in this process, and a
database lock across processes, held while the token endpoint is called: `SELECT ... FOR
UPDATE` on the connection row on PostgreSQL, `BEGIN IMMEDIATE` (the write lock) on SQLite.
Whoever gets the lock second re-reads the credential and finds it fresh, so fifty callers on
a just-expired token make one token call. The new refresh token is written in the same
transaction that read the old one; an answer without one keeps the old (17). On
`invalid_grant` the stored credential is re-read once (a reconnect or another worker may
have replaced it) before the connection is marked in error (18).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hub.connections.health import set_status
from hub.connections.models import Connection
from hub.connections.oauth import client as oauth
from hub.connections.oauth.apps import connection_client
from hub.connections.oauth.tokens import expiry_of, token_fields, token_hints
from hub.core.errors import HubError
from hub.db.engine import Database, make_engine
from vault import Vault

log = logging.getLogger("hub.connections.oauth.refresh")

# An access token with less than this left is refreshed before it is handed out.
MIN_VALID_S = 30


def expiring(fields: dict[str, str], within_s: float) -> bool:
    """Whether the stored access token expires within `within_s` seconds.

    For tokens that live shorter than twice that, half their lifetime counts instead: a
    lead time longer than the token's life would refresh it on every look."""
    exp = fields.get("expires_at")
    if exp is None:
        return False
    issued = fields.get("refreshed_at")
    if issued is not None:
        within_s = min(within_s, max(0.0, (float(exp) - float(issued)) / 2))
    return float(exp) - time.time() <= within_s


@dataclass(frozen=True)
class _Outcome:
    fields: dict[str, str] | None
    error: HubError | None = None


class Refresher:
    """Hands out current access tokens, refreshing them once however many ask at once."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault
        # asyncio locks belong to one event loop: one set per loop (the server has one; tests
        # and CLI commands may run several in turn).
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]]
        self._locks = weakref.WeakKeyDictionary()
        self._sqlite = db.url.startswith("sqlite")
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    def _session_factory(self) -> sessionmaker[Session]:
        if self._sessions is None:
            # SQLite: a small engine of our own whose transactions begin IMMEDIATE, so the
            # lock is taken before the credential is read (another process waits on it).
            self._engine = make_engine(self.db.url, immediate=True) if self._sqlite else None
            self._sessions = (
                sessionmaker(self._engine, expire_on_commit=False)
                if self._engine is not None
                else self.db.sessions
            )
        return self._sessions

    @contextmanager
    def _locked(self) -> Iterator[Session]:
        s = self._session_factory()()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def close(self) -> None:
        """Release the SQLite lock engine."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None

    async def current(
        self,
        tenant_id: str,
        connection_id: str,
        *,
        min_valid_s: float = MIN_VALID_S,
        force: bool = False,
    ) -> dict[str, str]:
        """The connection's token fields with an access token valid `min_valid_s` more
        seconds (refreshed if needed, once for all concurrent callers)."""
        per_loop = self._locks.setdefault(asyncio.get_running_loop(), {})
        lock = per_loop.setdefault(connection_id, asyncio.Lock())
        async with lock:
            return await asyncio.to_thread(
                self.refresh_sync, tenant_id, connection_id, min_valid_s=min_valid_s, force=force
            )

    def refresh_sync(
        self,
        tenant_id: str,
        connection_id: str,
        *,
        min_valid_s: float = MIN_VALID_S,
        force: bool = False,
    ) -> dict[str, str]:
        """Refresh under the database lock if still needed; the current fields either way."""
        with self._locked() as s:
            got = self._refresh_in(s, tenant_id, connection_id, min_valid_s, force)
        # Raised after the commit: an error status must stick even though the call fails.
        if got.error is not None:
            raise got.error
        assert got.fields is not None
        return got.fields

    def _refresh_in(
        self, s: Session, tenant_id: str, connection_id: str, min_valid_s: float, force: bool
    ) -> _Outcome:
        q = select(Connection).where(
            Connection.id == connection_id, Connection.tenant_id == tenant_id
        )
        conn = s.scalar(q.with_for_update())
        if conn is None or not conn.credential_id:
            return _Outcome(None, HubError("not_connected", "The connection no longer exists."))
        fields = self.vault.read(s, tenant_id, conn.credential_id)
        if not force and not expiring(fields, min_valid_s):
            return _Outcome(fields)  # someone refreshed it while we waited for the lock
        provider, creds = connection_client(s, self.vault, conn)
        spent = fields.get("refresh_token")
        if not spent:
            if not expiring(fields, 0):
                return _Outcome(fields)
            return self._fail(
                s,
                conn,
                f"{provider.name} gave no refresh token and the access token expired: "
                "reconnect to sign in again.",
            )
        for attempt in (1, 2):
            try:
                tok = oauth.refresh(provider.endpoints, creds, refresh_token=spent)
            except oauth.TokenError as exc:
                if exc.error != "invalid_grant":
                    set_status(
                        s,
                        conn,
                        "warning",
                        reason=f"token refresh failed ({exc.error}); retrying",
                        kind="token_refresh",
                    )
                    return _Outcome(
                        None,
                        HubError(
                            "vendor_unavailable",
                            f"{provider.name}'s token endpoint refused or did not answer "
                            f"({exc.error[:40]}); try again shortly.",
                        ),
                    )
                if attempt == 2:
                    break
                # SECURITY 18: re-read once; another worker or a reconnect may have rotated it.
                s.expire_all()
                fields = self.vault.read(s, tenant_id, conn.credential_id)
                if fields.get("refresh_token") == spent:
                    break
                if not expiring(fields, min_valid_s):
                    return _Outcome(fields)
                spent = fields["refresh_token"]
                continue
            return _Outcome(self._store(s, conn, tok, spent))
        return self._fail(
            s,
            conn,
            f"{provider.name} refused the refresh token (invalid_grant): access was revoked or "
            "expired; reconnect.",
        )

    def _store(
        self, s: Session, conn: Connection, tok: oauth.TokenSet, spent: str
    ) -> dict[str, str]:
        new = token_fields(tok, previous_refresh=spent)
        assert conn.credential_id is not None
        self.vault.put(
            s,
            tenant_id=conn.tenant_id,
            owner_id=conn.id,
            kind="oauth_token",
            fields=new,
            hint=token_hints(new),
            scopes=(tok.scope or "").split(),
            expires_at=expiry_of(tok),
            credential_id=conn.credential_id,
        )
        conn.token_expires_at = expiry_of(tok)
        if conn.status == "warning" and conn.last_error_kind == "token_refresh":
            set_status(s, conn, "connected", reason="token refreshed", kind=None)
        log.info(
            "oauth token refreshed",
            extra={
                "connection_id": conn.id,
                "integration": conn.integration_slug,
                "rotated": tok.refresh_token is not None and tok.refresh_token != spent,
            },
        )
        return new

    def _fail(self, s: Session, conn: Connection, reason: str) -> _Outcome:
        set_status(s, conn, "error", reason=reason, kind="auth")
        return _Outcome(None, HubError("not_connected", reason))
