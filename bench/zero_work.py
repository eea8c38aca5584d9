"""A zero-work stand-in for n8n's webhook: answers every POST with {"ok": true} at once.

Used only by the overhead benchmark, to measure what the hub adds on its own.
Run: python -m bench.zero_work PORT
"""

from __future__ import annotations

import sys

import uvicorn

BODY = b'{"ok": true, "data": {"message_id": "SM0", "status": "queued"}}'


async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    """Read the request body, answer the fixed JSON."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        msg = await receive()
        more = msg.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
