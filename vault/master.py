"""The master key: parsing, loading from env or file, and generating one in local mode."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path

from vault.errors import MasterKeyError

KEY_BYTES = 32
GENERATE_HINT = (
    'python -c "import secrets,base64;'
    'print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'
)
_HEX = frozenset("0123456789abcdefABCDEF")


def generate_master_key_text() -> str:
    """A new random master key as base64url text (44 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def parse_master_key(text: str, source: str = "HUB_MASTER_KEY") -> bytes:
    """Decode 32 bytes from base64/base64url (43 or 44 chars) or 64 hex chars."""
    t = text.strip()
    if len(t) == 2 * KEY_BYTES and set(t) <= _HEX:
        return bytes.fromhex(t)
    if len(t) in (43, 44):
        # Accept both alphabets; validate=True rejects stray characters instead of skipping them.
        std = t.replace("-", "+").replace("_", "/")
        try:
            raw = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == KEY_BYTES:
            return raw
    # Never echo the value: a near-miss may still be most of a real key.
    raise MasterKeyError(
        f"{source} is not a valid master key: expected 32 bytes written as base64 or base64url "
        f"(43 or 44 characters) or as 64 hex characters. Generate one with: {GENERATE_HINT}"
    )


def _check_file_mode(path: Path) -> None:
    if os.name == "nt":  # POSIX modes mean nothing there; rely on the ACLs.
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise MasterKeyError(
            f"master key file {path} is accessible by group or others (mode {mode:04o}); "
            f"run `chmod 600 {path}` and start again"
        )


def _read_key_file(path: Path) -> bytes:
    try:
        _check_file_mode(path)
        text = path.read_text(encoding="ascii")
    except MasterKeyError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise MasterKeyError(f"cannot read master key file {path}: {type(exc).__name__}") from None
    return parse_master_key(text, f"master key file {path}")


def _write_new_key_file(path: Path) -> bool:
    """Create `path` holding a new key, 0600 from the first byte; False if another process won."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = (generate_master_key_text() + "\n").encode()
    # Write a private temp file, then hard-link it into place: link fails if the name exists,
    # so two processes generating at once cannot both win, and readers never see a partial file.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False  # another process generated it first: use theirs
        except OSError:
            # Filesystem without hard links: create the final name exclusively instead.
            try:
                fd2 = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return False
            with os.fdopen(fd2, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
    finally:
        tmp.unlink(missing_ok=True)
    return True


def load_master_key(
    value: str | None, key_file: Path | None, *, generate: bool
) -> tuple[bytes, str]:
    """Return the 32-byte master key and where it came from (value, file, or generated)."""
    if value is not None and value.strip():
        return parse_master_key(value, "HUB_MASTER_KEY"), "from HUB_MASTER_KEY"
    if key_file is not None:
        key_file = Path(key_file).expanduser()
        if key_file.exists():
            return _read_key_file(key_file), f"from {key_file}"
        if generate:
            made = _write_new_key_file(key_file)
            return _read_key_file(key_file), f"{'generated' if made else 'from'} {key_file}"
        raise MasterKeyError(
            f"production mode needs HUB_MASTER_KEY or HUB_MASTER_KEY_FILE; there is no master "
            f"key file at {key_file}. Generate a key with: {GENERATE_HINT}"
        )
    if generate:
        raise MasterKeyError(
            "no master key and no HUB_MASTER_KEY_FILE path to generate one into; "
            "set HUB_MASTER_KEY_FILE (or HUB_MASTER_KEY)"
        )
    raise MasterKeyError(
        "production mode needs HUB_MASTER_KEY or HUB_MASTER_KEY_FILE. "
        f"Generate a key with: {GENERATE_HINT}"
    )
