"""Vault errors. Messages name ids and versions, never plaintext or key bytes."""

from __future__ import annotations


class VaultError(Exception):
    """Base class of every error the vault raises."""

    @property
    def message(self) -> str:
        """The human-readable message (the hub's error mapping reads `.message`)."""
        return str(self)


class MasterKeyError(VaultError):
    """The master key is missing, malformed, badly protected, or does not unlock the ring."""


class DecryptionError(VaultError):
    """A ciphertext failed authentication: altered, or moved to another tenant or row."""

    def __init__(self, credential_id: str | None = None, detail: str | None = None) -> None:
        self.credential_id = credential_id
        where = f"credential {credential_id}" if credential_id else "a credential"
        super().__init__(
            detail
            or f"cannot decrypt {where}: its ciphertext was altered or does not belong to this "
            "tenant and credential row (ciphertexts are bound to both)"
        )


class KeyRetiredError(VaultError):
    """The ciphertext is under a key version whose key material was destroyed."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(
            f"key version {version} was retired and its key destroyed; "
            "data encrypted under it can no longer be read"
        )


class UnknownKeyVersionError(VaultError):
    """The ciphertext names a key version the key ring does not have."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(
            f"key version {version} is not in the key ring (vault_keys); the ciphertext comes "
            "from another installation or the key ring table was restored from an older backup"
        )


class KeyVersionInUseError(VaultError):
    """Retiring a version that credentials still use is refused."""

    def __init__(self, version: int, count: int) -> None:
        self.version = version
        self.count = count
        super().__init__(
            f"cannot retire key version {version}: {count} credential(s) still use it; "
            "run `hub vault rewrap` first"
        )


class CurrentKeyError(VaultError):
    """The current key version cannot be retired."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(
            f"cannot retire key version {version}: it is the current version; "
            "run `hub vault rotate` and `hub vault rewrap` first"
        )


class CredentialNotFound(VaultError):
    """No credential with this id in this tenant (another tenant's counts as none)."""

    def __init__(self, credential_id: str) -> None:
        self.credential_id = credential_id
        super().__init__(f"credential {credential_id} not found")


class CredentialConflict(VaultError):
    """A caller-chosen credential id is already taken by another tenant."""

    def __init__(self, credential_id: str) -> None:
        self.credential_id = credential_id
        super().__init__(f"credential id {credential_id} is not available to this tenant")
