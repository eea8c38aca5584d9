"""Envelope encryption (AES-256-GCM): pure crypto, no database.

Blob layout (all integers big-endian):

    magic b"hv1" (3) | key version (4) | wrap nonce (12) | wrapped DEK (32 + 16 tag)
    | data nonce (12) | data ciphertext (len(plaintext) + 16 tag)

The DEK is wrapped under the version's KEK with AAD = (label, tenant, credential, version),
and the data is encrypted under the DEK with AAD = (label, tenant, credential). The data part
leaves out the version so that rewrap can change the wrap without touching the data; the
version is still authenticated, through the wrap (a DEK only unwraps under the AAD naming the
version in the header).
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import DecryptionError

MAGIC = b"hv1"
KEY_BYTES = 32
NONCE_BYTES = 12  # 96-bit random nonces, the size GCM is specified for
TAG_BYTES = 16
WRAPPED_DEK_BYTES = KEY_BYTES + TAG_BYTES
_VERSION = struct.Struct(">I")
HEADER_BYTES = len(MAGIC) + _VERSION.size + NONCE_BYTES + WRAPPED_DEK_BYTES + NONCE_BYTES
_DATA_LABEL = b"hv1-data"
_WRAP_LABEL = b"hv1-dek"


class BlobParts(NamedTuple):
    """The fields of a sealed blob."""

    version: int
    wrap_nonce: bytes
    wrapped_dek: bytes
    data_nonce: bytes
    data_ciphertext: bytes


def encode_aad(*fields: bytes) -> bytes:
    """Length-prefix each field so no two field lists encode to the same bytes."""
    return b"".join(_VERSION.pack(len(f)) + f for f in fields)


def _data_aad(tenant_id: str, credential_id: str) -> bytes:
    return encode_aad(_DATA_LABEL, tenant_id.encode(), credential_id.encode())


def _wrap_aad(tenant_id: str, credential_id: str, version: int) -> bytes:
    return encode_aad(
        _WRAP_LABEL, tenant_id.encode(), credential_id.encode(), _VERSION.pack(version)
    )


def _check_key(key: bytes, what: str) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"{what} must be {KEY_BYTES} bytes")


def _check_version(version: int) -> None:
    if not 0 < version < 2**32:
        raise ValueError("key version must fit in 4 bytes and be positive")


def parse_blob(blob: bytes) -> BlobParts:
    """Split a blob into its fields (DecryptionError if it is not a vault blob)."""
    if len(blob) < HEADER_BYTES + TAG_BYTES or blob[: len(MAGIC)] != MAGIC:
        raise DecryptionError(detail="not a vault ciphertext (wrong format or truncated)")
    i = len(MAGIC)
    (version,) = _VERSION.unpack_from(blob, i)
    i += _VERSION.size
    wrap_nonce = blob[i : i + NONCE_BYTES]
    i += NONCE_BYTES
    wrapped = blob[i : i + WRAPPED_DEK_BYTES]
    i += WRAPPED_DEK_BYTES
    data_nonce = blob[i : i + NONCE_BYTES]
    i += NONCE_BYTES
    return BlobParts(version, wrap_nonce, wrapped, data_nonce, blob[i:])


def _assemble(
    version: int, wrap_nonce: bytes, wrapped: bytes, data_nonce: bytes, data_ct: bytes
) -> bytes:
    return b"".join((MAGIC, _VERSION.pack(version), wrap_nonce, wrapped, data_nonce, data_ct))


def blob_version(blob: bytes) -> int:
    """The key version a blob was sealed (or last rewrapped) under."""
    return parse_blob(blob).version


def seal(kek: bytes, version: int, plaintext: bytes, tenant_id: str, credential_id: str) -> bytes:
    """Encrypt under a fresh DEK, wrap the DEK under `kek`; bound to tenant and credential."""
    _check_key(kek, "KEK")
    _check_version(version)
    dek = os.urandom(KEY_BYTES)  # one DEK per seal: a data (key, nonce) pair never repeats
    data_nonce = os.urandom(NONCE_BYTES)
    data_ct = AESGCM(dek).encrypt(data_nonce, plaintext, _data_aad(tenant_id, credential_id))
    wrap_nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, dek, _wrap_aad(tenant_id, credential_id, version))
    return _assemble(version, wrap_nonce, wrapped, data_nonce, data_ct)


def _unwrap_dek(kek: bytes, parts: BlobParts, tenant_id: str, credential_id: str) -> bytes:
    _check_key(kek, "KEK")
    try:
        return AESGCM(kek).decrypt(
            parts.wrap_nonce, parts.wrapped_dek, _wrap_aad(tenant_id, credential_id, parts.version)
        )
    except InvalidTag:
        raise DecryptionError(credential_id) from None


def open_blob(kek: bytes, blob: bytes, tenant_id: str, credential_id: str) -> bytes:
    """Decrypt a blob sealed for this tenant and credential (DecryptionError otherwise)."""
    parts = parse_blob(blob)
    dek = _unwrap_dek(kek, parts, tenant_id, credential_id)
    try:
        return AESGCM(dek).decrypt(
            parts.data_nonce, parts.data_ciphertext, _data_aad(tenant_id, credential_id)
        )
    except InvalidTag:
        raise DecryptionError(credential_id) from None


def rewrap(
    old_kek: bytes,
    new_kek: bytes,
    new_version: int,
    blob: bytes,
    tenant_id: str,
    credential_id: str,
) -> bytes:
    """Re-wrap the blob's DEK under `new_kek`; the data ciphertext is kept, never decrypted."""
    _check_key(new_kek, "KEK")
    _check_version(new_version)
    parts = parse_blob(blob)
    dek = _unwrap_dek(old_kek, parts, tenant_id, credential_id)
    wrap_nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(new_kek).encrypt(
        wrap_nonce, dek, _wrap_aad(tenant_id, credential_id, new_version)
    )
    return _assemble(new_version, wrap_nonce, wrapped, parts.data_nonce, parts.data_ciphertext)
