"""Opaque page cursors for offset paging (REST and hub_query hand them out alike)."""

from __future__ import annotations

import base64

from hub.core.errors import HubError


def encode_cursor(offset: int) -> str:
    """An opaque page cursor."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset in a cursor from encode_cursor (refuses anything else)."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind == "o" and value.isdigit():
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise HubError(
        "invalid_request",
        "cursor is not one this hub issued; pass next_cursor from the previous page.",
        details={"field": "cursor"},
    )
