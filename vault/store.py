"""`Vault`: the credential store the hub uses. The caller owns the transaction."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, delete, event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from vault import envelope
from vault.errors import (
    CredentialConflict,
    CredentialNotFound,
    CurrentKeyError,
    DecryptionError,
    KeyVersionInUseError,
    UnknownKeyVersionError,
    VaultError,
)
from vault.keyring import KeyRing, add_version, derive_wrapping_key, read_ring
from vault.models import CREDENTIAL_KINDS, Credential, VaultKey, new_credential_id, utcnow

_credentials = Credential.__table__
_SEALED = select(_credentials.c.tenant_id, _credentials.c.ciphertext).where(
    _credentials.c.id == bindparam("id")
)

RELOAD_INTERVAL = 5.0  # seconds a process may go without noticing another's rotate/retire
_ID_MAX = 40
_PUT_ATTEMPTS = 3


def masked_hint(value: str) -> str:
    """A display hint such as `sk_live_...4242`: a type prefix and the last 4 chars at most."""
    n = len(value)
    if n < 12:
        # Short secrets: two trailing chars only once 6 stay hidden, otherwise nothing.
        return "****" + (value[-2:] if n >= 8 else "")
    head = ""
    cut = value[:8].rfind("_")
    if cut >= 0:
        head = value[: cut + 1]
        # Keep the prefix only while most of the secret stays hidden (never the middle).
        if n - len(head) - 4 < max(8, n // 2):
            head = ""
    return f"{head}...{value[-4:]}"


@dataclass(frozen=True)
class KeyVersionStatus:
    """One key version as `hub vault status` shows it."""

    version: int
    status: str
    created_at: datetime
    retired_at: datetime | None
    credentials: int
    is_current: bool


def _check_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > _ID_MAX:
        raise ValueError(f"{name} must be a non-empty string of at most {_ID_MAX} characters")


def _check_fields(fields: dict[str, str], hint: dict[str, str] | None) -> dict[str, str]:
    """Validate secret fields and return the hints to store. Errors name fields, not values."""
    if not isinstance(fields, dict) or not fields:
        raise ValueError("fields must be a non-empty dict of field name -> secret string")
    for k, v in fields.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"credential field {k!r} must map a string name to a string value")
    if hint is None:
        return {k: masked_hint(v) for k, v in fields.items()}
    for hk, hv in hint.items():
        if not isinstance(hk, str) or not isinstance(hv, str):
            raise TypeError(f"hint {hk!r} must map a string name to a string")
        # A hint is shown everywhere; refuse one that carries a whole secret value.
        for fk, fv in fields.items():
            if len(fv) >= 8 and fv in hv:
                raise ValueError(f"hint {hk!r} contains the whole value of field {fk!r}")
    return dict(hint)


class Vault:
    """Envelope-encrypted credential storage over a versioned key ring."""

    def __init__(self, master_key: bytes, *, reload_interval: float = RELOAD_INTERVAL) -> None:
        self._wrapping_key = derive_wrapping_key(master_key)
        self._reload_interval = reload_interval
        self._ring: KeyRing | None = None  # shared snapshot; replaced whole, never mutated
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        # Session.info keys: "this vault changed vault_keys in the session's open transaction".
        self._dirty_key = ("vault.keys-changed", id(self))
        self._hook_key = ("vault.hooked", id(self))

    def __repr__(self) -> str:
        ring = self._ring
        return f"<Vault current key version {ring.current if ring else '?'}>"

    # ----- key ring --------------------------------------------------------------------------

    def _mark_dirty(self, s: Session) -> None:
        # Key-ring writes stay private to the session until it commits: if it rolls back, no
        # other thread must have sealed data under a key version that never reached the DB.
        if not s.info.get(self._hook_key):
            event.listen(s, "after_transaction_end", self._after_transaction_end)
            s.info[self._hook_key] = True
        s.info[self._dirty_key] = True

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        # The outermost transaction committed or rolled back: re-read the shared ring next time.
        if transaction.parent is None and session.info.pop(self._dirty_key, None):
            self._checked_at = float("-inf")

    def _ring_for(self, s: Session, *, force: bool = False) -> KeyRing:
        """The ring to use in this session: cached up to reload_interval, else one query."""
        if s.info.get(self._dirty_key):
            ring = read_ring(s, self._wrapping_key)  # includes the session's own changes
            if ring is None:
                raise VaultError("the key ring is empty")
            return ring
        asked = time.monotonic()
        ring = self._ring
        if ring is not None and not force and asked - self._checked_at < self._reload_interval:
            return ring
        with self._lock:
            if self._ring is not None and self._checked_at >= asked:
                return self._ring  # another thread refreshed while we waited
            fresh = read_ring(s, self._wrapping_key)
            if fresh is None:
                if self._ring is not None:
                    return self._ring  # an older snapshot; keep what we know
                return self._initialise(s)
            # Merge so that a session with an older snapshot never makes the ring go back.
            self._ring = fresh.merged_with(self._ring)
            self._checked_at = time.monotonic()
            return self._ring

    def _initialise(self, s: Session) -> KeyRing:
        orphans = s.scalar(select(func.count()).select_from(Credential))
        if orphans:
            raise VaultError(
                f"vault_keys is empty but {orphans} credential(s) exist: the key ring was lost; "
                "restore the vault_keys table from the backup taken with the credentials"
            )
        self._mark_dirty(s)  # private to this session until it commits
        add_version(s, self._wrapping_key)
        ring = read_ring(s, self._wrapping_key)
        if ring is None:
            raise VaultError("the key ring could not be created")
        return ring

    def _kek(self, s: Session, ring: KeyRing, version: int) -> bytes:
        try:
            return ring.kek(version)
        except UnknownKeyVersionError:
            # Another process may have rotated since our last look: re-read once.
            return self._ring_for(s, force=True).kek(version)

    @staticmethod
    def _still_active(s: Session, version: int) -> bool:
        # Read after our write and with a share lock (PostgreSQL): a concurrent retire either
        # committed before (we see it and re-seal) or waits for us and then counts our row.
        q = select(VaultKey.status).where(VaultKey.version == version).with_for_update(read=True)
        return s.execute(q).scalar_one_or_none() == "active"

    def load(self, s: Session) -> int:
        """Load (or create, when empty) the key ring; MasterKeyError if the key does not fit."""
        return self._ring_for(s, force=True).current

    def status(self, s: Session) -> list[KeyVersionStatus]:
        """Every key version with its state and how many credentials use it."""
        current = self._ring_for(s, force=True).current
        counts: dict[int, int] = {
            v: n
            for v, n in s.execute(
                select(Credential.key_version, func.count()).group_by(Credential.key_version)
            ).all()
        }
        keys = s.scalars(select(VaultKey).order_by(VaultKey.version)).all()
        return [
            KeyVersionStatus(
                k.version,
                k.status,
                k.created_at,
                k.retired_at,
                counts.get(k.version, 0),
                k.version == current,
            )
            for k in keys
        ]

    def rotate(self, s: Session) -> int:
        """Add a key version with a fresh random KEK; new writes use it. Returns the version."""
        self._mark_dirty(s)
        self._ring_for(s)  # proves this master key unlocks the existing versions first
        return add_version(s, self._wrapping_key)

    def rewrap(
        self,
        s: Session,
        *,
        batch_size: int = 200,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Move every credential to the current version by re-wrapping its DEK (no plaintext)."""
        ring = self._ring_for(s, force=True)
        target = ring.current
        new_kek = ring.kek(target)
        pending = Credential.key_version != target
        total = s.scalar(select(func.count()).select_from(Credential).where(pending)) or 0
        done = moved = 0
        last_id = ""
        if on_progress:
            on_progress(0, total)
        while True:
            # Keyset pagination: terminates even if rows change under us.
            batch = s.execute(
                select(Credential.id, Credential.tenant_id, Credential.ciphertext)
                .where(pending, Credential.id > last_id)
                .order_by(Credential.id)
                .limit(batch_size)
            ).all()
            if not batch:
                break
            changed: set[str] = set()
            for cred_id, tenant_id, blob in batch:
                try:
                    version = envelope.blob_version(blob)
                    if version == target:
                        new_blob = blob  # only the column was stale
                    else:
                        old_kek = self._kek(s, ring, version)
                        new_blob = envelope.rewrap(
                            old_kek, new_kek, target, blob, tenant_id, cred_id
                        )
                except DecryptionError:
                    raise DecryptionError(cred_id) from None  # name the row to fix
                # Only if the row is still what we read: a concurrent put wins over us.
                res = s.execute(
                    update(Credential)
                    .where(Credential.id == cred_id, Credential.ciphertext == blob)
                    .values(
                        ciphertext=new_blob,
                        key_version=target,
                        updated_at=Credential.updated_at,  # the secret did not change
                    )
                    .execution_options(synchronize_session=False)
                )
                if cast(CursorResult[Any], res).rowcount:
                    moved += 1
                    changed.add(cred_id)
            for obj in list(s.identity_map.values()):
                if isinstance(obj, Credential) and obj.id in changed:
                    s.expire(obj)
            done += len(batch)
            last_id = batch[-1][0]
            if on_progress:
                on_progress(done, max(total, done))
        if moved and not self._still_active(s, target):
            raise VaultError(
                f"key version {target} was retired while rewrapping; roll back and run "
                "`hub vault rewrap` again"
            )
        return moved

    def retire(self, s: Session, version: int) -> None:
        """Destroy a version's KEK; refused for the current version and versions in use."""
        self._mark_dirty(s)
        # Lock the key row first with a no-op write (row lock on PostgreSQL, the write lock on
        # SQLite): a concurrent put then either lands before our count or sees the retirement.
        s.execute(
            update(VaultKey)
            .where(VaultKey.version == version)
            .values(status=VaultKey.status)
            .execution_options(synchronize_session=False)
        )
        key = s.get(VaultKey, version, populate_existing=True)
        if key is None:
            raise UnknownKeyVersionError(version)
        if version == self._ring_for(s).current:
            raise CurrentKeyError(version)
        if key.status == "retired":
            return
        in_use = s.scalar(
            select(func.count()).select_from(Credential).where(Credential.key_version == version)
        )
        if in_use:
            raise KeyVersionInUseError(version, in_use)
        key.status = "retired"
        key.wrapped_key = None  # crypto-shredding: data under this version is now unreadable
        key.retired_at = utcnow()
        s.flush()

    # ----- credentials -----------------------------------------------------------------------

    def put(
        self,
        s: Session,
        *,
        tenant_id: str,
        owner_id: str,
        kind: str,
        fields: dict[str, str],
        hint: dict[str, str] | None = None,
        scopes: list[str] | None = None,
        expires_at: datetime | None = None,
        credential_id: str | None = None,
    ) -> Credential:
        """Store (or replace) a credential sealed under the current key version."""
        _check_id("tenant_id", tenant_id)
        _check_id("owner_id", owner_id)
        if kind not in CREDENTIAL_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CREDENTIAL_KINDS)}")
        hints = _check_fields(fields, hint)
        row: Credential | None = None
        if credential_id is None:
            credential_id = new_credential_id()
        else:
            _check_id("credential_id", credential_id)
            row = s.get(Credential, credential_id)
            if row is not None and row.tenant_id != tenant_id:
                raise CredentialConflict(credential_id)
        plaintext = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        ring = self._ring_for(s)
        for _ in range(_PUT_ATTEMPTS):
            version = ring.current
            blob = envelope.seal(ring.kek(version), version, plaintext, tenant_id, credential_id)
            if row is None:
                row = Credential(id=credential_id, tenant_id=tenant_id, created_at=utcnow())
                s.add(row)
            # put replaces the whole credential: omitted scopes/expiry mean none.
            row.owner_id, row.kind, row.hint = owner_id, kind, hints
            row.scopes, row.expires_at = list(scopes or []), expires_at
            row.ciphertext, row.key_version, row.updated_at = blob, version, utcnow()
            s.flush()
            if self._still_active(s, version):
                return row
            ring = self._ring_for(s, force=True)  # retired under us: re-seal under the new one
        raise VaultError("the key ring kept changing while writing a credential; try again")

    def get(self, s: Session, tenant_id: str, credential_id: str) -> Credential:
        """The credential row (metadata; ciphertext stays sealed). Other tenants': not found."""
        row = s.get(Credential, credential_id)
        if row is None or row.tenant_id != tenant_id:
            raise CredentialNotFound(credential_id)
        return row

    def hints(self, s: Session, tenant_id: str, credential_id: str) -> dict[str, str]:
        """Masked hints of a credential's fields (never the values)."""
        return dict(self.get(s, tenant_id, credential_id).hint or {})

    def read(self, s: Session, tenant_id: str, credential_id: str) -> dict[str, str]:
        """Decrypt a credential's fields: the only way plaintext leaves the vault."""
        # The sealed blob alone, without the ORM: loading the row as an object cost more
        # than opening it. Flushed first, so a credential this session wrote is seen.
        s.flush()
        row = s.connection().execute(_SEALED, {"id": credential_id}).first()
        if row is None or row.tenant_id != tenant_id:
            raise CredentialNotFound(credential_id)
        version = envelope.blob_version(row.ciphertext)
        kek = self._kek(s, self._ring_for(s), version)
        plaintext = envelope.open_blob(kek, row.ciphertext, tenant_id, credential_id)
        try:
            fields: Any = json.loads(plaintext)
        except ValueError:
            # `from None`: the JSON error object holds the document, i.e. the plaintext.
            raise DecryptionError(credential_id, "credential payload is not valid JSON") from None
        if not isinstance(fields, dict):
            raise DecryptionError(credential_id, "credential payload is not a JSON object")
        return fields

    def delete(self, s: Session, tenant_id: str, credential_id: str) -> bool:
        """Delete one credential of this tenant; False if there was none."""
        row = s.get(Credential, credential_id)
        if row is None or row.tenant_id != tenant_id:
            return False
        s.delete(row)
        s.flush()
        return True

    def delete_for_owner(self, s: Session, tenant_id: str, owner_id: str) -> int:
        """Delete every credential of this tenant owned by `owner_id`; returns how many."""
        res = s.execute(
            delete(Credential)
            .where(Credential.tenant_id == tenant_id, Credential.owner_id == owner_id)
            .execution_options(synchronize_session="fetch")
        )
        return int(cast(CursorResult[Any], res).rowcount or 0)
