"""The webhook hop's failure mapping, against real HTTP servers on loopback.

What the hub records depends on it: NotSent means a retry may run the call again,
OutcomeUnknown means the vendor may have acted and nothing is resent.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable

import pytest

from hub.core.hop import NotSent, OutcomeUnknown
from hub.n8n.invoke import WEBHOOK_AUTH_HEADER, WebhookInvoker

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """One HTTP/1.1 request: (request line, lower-cased headers, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return lines[0], headers, body


def response(status: int, body: bytes, *, chunked: bool = False, close: bool = False) -> bytes:
    """A raw HTTP/1.1 response."""
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
    if close:
        head += "Connection: close\r\n"
    if chunked:
        mid = len(body) // 2
        parts = [body[:mid], body[mid:]]
        data = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts if p) + b"0\r\n\r\n"
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + data
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def serve(
    handler: Handler, host: str = "127.0.0.1"
) -> tuple[asyncio.AbstractServer, str, list[int]]:
    """A server on a free port of host; the list counts accepted connections."""
    accepted: list[int] = []

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handler(r, w)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()

    server = await asyncio.start_server(on_conn, host, 0)
    port = server.sockets[0].getsockname()[1]
    netloc = f"[{host}]" if ":" in host else host
    return server, f"http://{netloc}:{port}", accepted


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def answer_ok(seen: list) -> Handler:
    async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            line, headers, body = await read_request(r)
            seen.append((line, headers, json.loads(body)))
            w.write(response(200, json.dumps({"ok": True, "data": {"n": len(seen)}}).encode()))
            await w.drain()

    return h


def test_posts_json_with_the_webhook_header_over_one_kept_alive_connection() -> None:
    seen: list = []

    async def main() -> None:
        server, url, accepted = await serve(answer_ok(seen))
        inv = WebhookInvoker(url, "s3cret-header")
        try:
            for i in range(5):
                got = await inv.post("hub/twilio/send_sms/v1", {"run_id": f"run_{i}", "x": "é"})
                assert got == {"ok": True, "data": {"n": i + 1}}
        finally:
            await inv.aclose()
            server.close()
        assert len(accepted) == 1
        line, headers, body = seen[0]
        assert line == "POST /webhook/hub/twilio/send_sms/v1 HTTP/1.1"
        assert headers[WEBHOOK_AUTH_HEADER.lower()] == "s3cret-header"
        assert headers["content-type"] == "application/json"
        assert body == {"run_id": "run_0", "x": "é"}

    run(main())


def test_concurrent_calls_each_get_their_own_answer() -> None:
    async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            _, _, body = await read_request(r)
            await asyncio.sleep(0.01)
            w.write(response(200, json.dumps({"ok": True, "data": json.loads(body)}).encode()))
            await w.drain()

    async def main() -> None:
        server, url, _ = await serve(h)
        inv = WebhookInvoker(url, "k")
        try:
            got = await asyncio.gather(*(inv.post("p", {"i": i}) for i in range(20)))
        finally:
            await inv.aclose()
            server.close()
        assert [g["data"]["i"] for g in got] == list(range(20))

    run(main())


def test_chunked_answers_and_a_base_url_with_a_path_prefix() -> None:
    seen: list = []

    async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        line, _, _ = await read_request(r)
        seen.append(line)
        w.write(response(200, b'{"ok": false, "error": {"kind": "auth"}}', chunked=True))
        await w.drain()

    async def main() -> None:
        server, url, _ = await serve(h)
        inv = WebhookInvoker(url + "/n8n/", "k")
        try:
            got = await inv.post("hub/x/y/v2", {})
        finally:
            await inv.aclose()
            server.close()
        assert got == {"ok": False, "error": {"kind": "auth"}}
        assert seen == ["POST /n8n/webhook/hub/x/y/v2 HTTP/1.1"]

    run(main())


def test_a_connection_the_server_closed_is_not_reused() -> None:
    async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(response(200, b'{"ok": true}'))
        await w.drain()
        # Then close, as n8n does after its keep-alive timeout.

    async def main() -> None:
        server, url, accepted = await serve(h)
        inv = WebhookInvoker(url, "k")
        try:
            assert (await inv.post("p", {}))["ok"] is True
            await asyncio.sleep(0.05)
            assert (await inv.post("p", {}))["ok"] is True
        finally:
            await inv.aclose()
            server.close()
        assert len(accepted) == 2

    run(main())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nothing_listening_is_not_sent() -> None:
    async def main() -> None:
        inv = WebhookInvoker(f"http://127.0.0.1:{closed_port()}", "k")
        with pytest.raises(NotSent, match="not reachable"):
            await inv.post("p", {})
        await inv.aclose()

    run(main())


@pytest.mark.parametrize(
    ("status", "match"), [(404, "no active webhook"), (403, "refused the hub's webhook")]
)
def test_unknown_webhook_or_refused_credential_is_not_sent(status: int, match: str) -> None:
    async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(response(status, b'{"message": "nope"}'))
        await w.drain()

    async def main() -> None:
        server, url, _ = await serve(h)
        inv = WebhookInvoker(url, "k")
        try:
            with pytest.raises(NotSent, match=match):
                await inv.post("p", {})
        finally:
            await inv.aclose()
            server.close()

    run(main())


def hangs(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> Awaitable[None]:
    async def h() -> None:
        await read_request(r)
        await asyncio.sleep(30)

    return h()


def cuts_off(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> Awaitable[None]:
    async def h() -> None:
        await read_request(r)
        w.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"ok": tr')
        await w.drain()

    return h()


def not_json(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> Awaitable[None]:
    async def h() -> None:
        await read_request(r)
        w.write(response(200, b"<html>workflow crashed</html>"))
        await w.drain()

    return h()


def outside_contract(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> Awaitable[None]:
    async def h() -> None:
        await read_request(r)
        w.write(response(500, b'{"message": "Error in workflow"}'))
        await w.drain()

    return h()


def closes_without_answer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> Awaitable[None]:
    async def h() -> None:
        await read_request(r)  # then the connection closes: n8n may have run the call

    return h()


@pytest.mark.parametrize(
    ("handler", "match"),
    [
        (hangs, "no answer"),
        (cuts_off, "no answer"),
        (not_json, "without JSON"),
        (outside_contract, "outside the hub's contract"),
        (closes_without_answer, "no answer"),
    ],
)
def test_sent_without_a_usable_answer_is_outcome_unknown(handler: Handler, match: str) -> None:
    async def main() -> None:
        server, url, _ = await serve(handler)
        inv = WebhookInvoker(url, "k")
        try:
            with pytest.raises(OutcomeUnknown, match=match):
                await inv.post("p", {}, timeout_s=0.5)
        finally:
            await inv.aclose()
            server.close()

    run(main())


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_answer_over_16_mib_is_outcome_unknown(chunked: bool) -> None:
    mib = b"x" * (1024 * 1024)

    async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        if chunked:
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(17):
                w.write(f"{len(mib):x}\r\n".encode() + mib + b"\r\n")
                await w.drain()
            w.write(b"0\r\n\r\n")
        else:
            w.write(f"HTTP/1.1 200 OK\r\nContent-Length: {17 * len(mib)}\r\n\r\n".encode())
            for _ in range(17):
                w.write(mib)
                await w.drain()
        await w.drain()

    async def main() -> None:
        server, url, _ = await serve(h)
        inv = WebhookInvoker(url, "k")
        try:
            with pytest.raises(OutcomeUnknown, match="16 MiB"):
                await inv.post("p", {}, timeout_s=5)
        finally:
            await inv.aclose()
            server.close()

    run(main())


def test_a_large_answer_under_the_cap_arrives_whole() -> None:
    data = "y" * (3 * 1024 * 1024)

    async def h(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(response(200, json.dumps({"ok": True, "data": data}).encode(), chunked=True))
        await w.drain()

    async def main() -> None:
        server, url, _ = await serve(h)
        inv = WebhookInvoker(url, "k")
        try:
            got = await inv.post("p", {}, timeout_s=5)
        finally:
            await inv.aclose()
            server.close()
        assert got == {"ok": True, "data": data}

    run(main())


def test_an_unresolvable_host_is_not_sent() -> None:
    async def main() -> None:
        inv = WebhookInvoker("http://no-such-n8n.invalid:5678", "k")  # .invalid never resolves
        with pytest.raises(NotSent, match="not reachable"):
            await inv.post("p", {})
        await inv.aclose()

    run(main())


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_an_ipv6_n8n_url_gets_a_bracketed_host_header() -> None:
    seen: list = []

    async def main() -> None:
        server, url, accepted = await serve(answer_ok(seen), host="::1")
        port = server.sockets[0].getsockname()[1]
        assert url == f"http://[::1]:{port}"
        inv = WebhookInvoker(url, "k")
        try:
            for _ in range(2):
                assert (await inv.post("hub/x/y/v1", {"a": 1}))["ok"] is True
        finally:
            await inv.aclose()
            server.close()
        assert len(accepted) == 1
        line, headers, _ = seen[0]
        assert line == "POST /webhook/hub/x/y/v1 HTTP/1.1"
        assert headers["host"] == f"[::1]:{port}"

    run(main())


def test_one_invoker_serves_calls_from_successive_event_loops() -> None:
    """Each loop gets its own connections (a runtime's hop outlives a test's loop)."""
    seen: list = []
    inv: list[WebhookInvoker] = []

    async def call(url: str) -> None:
        if not inv:
            inv.append(WebhookInvoker(url, "k"))
        assert (await inv[0].post("p", {}))["ok"] is True

    async def main() -> None:
        server, url, accepted = await serve(answer_ok(seen))
        try:
            # the same invoker on two further loops, one after the other
            for _ in range(2):
                await asyncio.to_thread(asyncio.run, call(url))
        finally:
            server.close()
        assert len(seen) == 2 and len(accepted) == 2

    run(main())
