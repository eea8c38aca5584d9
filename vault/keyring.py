"""The key ring: versioned key-encryption keys (KEKs), stored wrapped under the master key."""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault.envelope import KEY_BYTES, NONCE_BYTES, encode_aad
from vault.errors import KeyRetiredError, MasterKeyError, UnknownKeyVersionError, VaultError
from vault.models import VaultKey

# The master key is not used as an AES key directly: a derived key keeps the vault's use of it
# separate from anything else the hub might derive from the same master key.
_WRAP_INFO = b"agent-hub vault: KEK wrapping key v1"
_KEK_LABEL = b"vault-kek"


def derive_wrapping_key(master_key: bytes) -> bytes:
    """The AES-256 key that wraps KEKs, derived from the master key with HKDF-SHA256."""
    if len(master_key) != KEY_BYTES:
        raise MasterKeyError("the master key must be 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_WRAP_INFO).derive(
        master_key
    )


def _kek_aad(version: int) -> bytes:
    return encode_aad(_KEK_LABEL, struct.pack(">I", version))


def wrap_kek(wrapping_key: bytes, version: int, kek: bytes) -> bytes:
    """nonce || AES-GCM(kek), bound to the version so rows cannot be swapped."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(wrapping_key).encrypt(nonce, kek, _kek_aad(version))


def unwrap_kek(wrapping_key: bytes, version: int, wrapped: bytes) -> bytes:
    """Recover a KEK; a wrong master key (or an altered row) raises MasterKeyError."""
    try:
        return AESGCM(wrapping_key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _kek_aad(version)
        )
    except (InvalidTag, ValueError):
        raise MasterKeyError(
            f"HUB_MASTER_KEY does not unlock key ring version {version}: start with the master "
            "key the ring was created with (HUB_MASTER_KEY or HUB_MASTER_KEY_FILE)"
        ) from None


@dataclass(frozen=True)
class KeyRing:
    """An immutable snapshot: version -> KEK for active versions, plus retired versions."""

    keks: Mapping[int, bytes] = field(repr=False)  # never print key bytes
    retired: frozenset[int]
    current: int

    @classmethod
    def build(cls, keks: Mapping[int, bytes], retired: frozenset[int] | set[int]) -> KeyRing:
        """A ring whose current version is the highest active one."""
        live = {v: k for v, k in keks.items() if v not in retired}
        if not live:
            raise VaultError("the key ring has no active key version (vault_keys)")
        return cls(MappingProxyType(live), frozenset(retired), max(live))

    def kek(self, version: int) -> bytes:
        """The KEK of a version (KeyRetiredError / UnknownKeyVersionError otherwise)."""
        try:
            return self.keks[version]
        except KeyError:
            if version in self.retired:
                raise KeyRetiredError(version) from None
            raise UnknownKeyVersionError(version) from None

    def merged_with(self, older: KeyRing | None) -> KeyRing:
        """This snapshot plus versions only `older` knows (retirement always wins)."""
        if older is None:
            return self
        return KeyRing.build({**older.keks, **self.keks}, self.retired | older.retired)


def read_ring(s: Session, wrapping_key: bytes) -> KeyRing | None:
    """Read and unlock the ring in one small query; None when vault_keys is empty."""
    rows = s.execute(select(VaultKey.version, VaultKey.status, VaultKey.wrapped_key)).all()
    if not rows:
        return None
    keks: dict[int, bytes] = {}
    retired: set[int] = set()
    for version, status, wrapped in rows:
        if status == "retired":
            retired.add(version)
        elif wrapped is None:
            raise VaultError(f"key ring version {version} is active but has no key material")
        else:
            keks[version] = unwrap_kek(wrapping_key, version, wrapped)
    return KeyRing.build(keks, retired)


def add_version(s: Session, wrapping_key: bytes) -> int:
    """Insert the next version with a fresh random KEK (flushed, not committed)."""
    # Versions are never reused, retired ones included; a concurrent rotate loses on the PK.
    version = (s.scalar(select(func.max(VaultKey.version))) or 0) + 1
    kek = os.urandom(KEY_BYTES)
    s.add(VaultKey(version=version, wrapped_key=wrap_kek(wrapping_key, version, kek)))
    s.flush()
    return version
