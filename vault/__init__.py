"""Credential vault: envelope encryption (AES-256-GCM) over a versioned key ring.

Stands alone: imports nothing from `hub` and nothing web-related.
"""

from vault.envelope import BlobParts, blob_version, open_blob, parse_blob, rewrap, seal
from vault.errors import (
    CredentialConflict,
    CredentialNotFound,
    CurrentKeyError,
    DecryptionError,
    KeyRetiredError,
    KeyVersionInUseError,
    MasterKeyError,
    UnknownKeyVersionError,
    VaultError,
)
from vault.keyring import KeyRing
from vault.master import generate_master_key_text, load_master_key, parse_master_key
from vault.models import CREDENTIAL_KINDS, Credential, VaultKey, metadata
from vault.store import KeyVersionStatus, Vault, masked_hint

__all__ = [
    "CREDENTIAL_KINDS",
    "BlobParts",
    "Credential",
    "CredentialConflict",
    "CredentialNotFound",
    "CurrentKeyError",
    "DecryptionError",
    "KeyRetiredError",
    "KeyRing",
    "KeyVersionInUseError",
    "KeyVersionStatus",
    "MasterKeyError",
    "UnknownKeyVersionError",
    "Vault",
    "VaultError",
    "VaultKey",
    "blob_version",
    "generate_master_key_text",
    "load_master_key",
    "masked_hint",
    "metadata",
    "open_blob",
    "parse_blob",
    "parse_master_key",
    "rewrap",
    "seal",
]
