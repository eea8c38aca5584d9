"""Removing secret values from anything the hub stores or returns.

A vendor that echoes a credential rarely echoes it as typed: a failed request's error may
quote the Authorization header, i.e. the base64 of `account_sid:auth_token` (basic auth) or
of the key alone, a URL may carry it percent-encoded, a debug dump may show it in hex. The
scrubber looks for each secret in all of those forms, including basic-auth pairs with the
connection's non-secret identity fields (an account SID, a user name, the literal "api").
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MIN_SECRET = 4  # shorter values would match ordinary text


def redact_fields(args: dict[str, Any], secret_fields: list[str]) -> dict[str, Any]:
    """A copy of `args` with the named top-level fields replaced by a marker."""
    return {k: (REDACTED if k in secret_fields else v) for k, v in args.items()}


def _b64_forms(raw: bytes) -> set[str]:
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return {std, url, std.rstrip("="), url.rstrip("=")}


def secret_forms(secrets_: Iterable[str], identities: Iterable[str] = ()) -> list[str]:
    """Every form a secret may be echoed in, longest first (so a longer form wins)."""
    values = [v for v in secrets_ if isinstance(v, str) and len(v) >= MIN_SECRET]
    names = [i for i in identities if isinstance(i, str)] + ["api", ""]
    out: set[str] = set()
    for v in values:
        raw = v.encode()
        out |= {v, quote(v, safe=""), quote_plus(v), raw.hex(), raw.hex().upper()}
        out |= _b64_forms(raw)
        for name in names:
            out |= _b64_forms(f"{name}:{v}".encode()) | _b64_forms(f"{v}:{name}".encode())
        for other in values:  # two secrets as user:password
            if other != v:
                out |= _b64_forms(f"{v}:{other}".encode())
    return sorted((f for f in out if len(f) >= MIN_SECRET), key=len, reverse=True)


class Scrubber:
    """Replaces every form of a set of secrets inside the strings of JSON-like values."""

    def __init__(self, secrets_: Iterable[str], identities: Iterable[str] = ()) -> None:
        self.forms = secret_forms(secrets_, identities)

    def scrub(self, obj: Any) -> Any:
        """A copy of obj with every secret form replaced by a marker."""
        if not self.forms:
            return obj
        return self._walk(obj)

    def _walk(self, x: Any) -> Any:
        if isinstance(x, str):
            for f in self.forms:
                if f in x:
                    x = x.replace(f, REDACTED)
            return x
        if isinstance(x, dict):
            return {self._walk(k): self._walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [self._walk(v) for v in x]
        return x
