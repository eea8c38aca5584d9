"""Checks of the outbound URL guard, run by tests/core/test_outbound.py inside a network
namespace with only loopback (tests.netns): nothing here can leave the machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx2

from hub.core import outbound
from hub.core.errors import HubError
from hub.core.outbound import guarded_client, parse_allow

# (url, rule): every spelling of a refused address the issue lists, and then some.
SPELLINGS = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://localhost:8080/mcp", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "loopback"),
    ("http://[64:ff9b::7f00:1]/", "loopback"),
    ("http://[2002:7f00:1::]/", "loopback"),
    ("http://good@127.0.0.1/", "userinfo"),
    ("http://user:pw@example.com@127.0.0.1/", "userinfo"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://0xc0a80101/", "private"),
    ("http://[fd00::1]/", "private"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://169.254.1.1/", "link_local"),
    ("http://[fe80::1]/", "link_local"),
    ("http://100.64.0.1/", "cgnat"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://169.254.169.254/latest/meta-data/", "cloud_metadata"),
    ("http://2852039166/", "cloud_metadata"),
    ("http://[::ffff:169.254.169.254]/", "cloud_metadata"),
    ("http://[fd00:ec2::254]/", "cloud_metadata"),
    ("http://100.100.100.200/", "cloud_metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud_metadata"),
    ("ftp://example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
]


def _rule(url: str, allow: str = "") -> str | None:
    try:
        outbound.check_url(url, parse_allow(allow))
    except HubError as err:
        assert err.kind == "outbound_refused"
        assert "HUB_OUTBOUND_ALLOW" in err.message or err.details["rule"] in (
            "userinfo",
            "scheme",
            "cloud_metadata",
        ), err.message
        return str(err.details["rule"])
    return None


def check_every_spelling_is_refused_with_its_rule() -> None:
    wrong = [(u, r, _rule(u)) for u, r in SPELLINGS if _rule(u) != r]
    assert not wrong, wrong


def check_allow_list_names_hosts_and_cidrs() -> None:
    assert _rule("http://127.0.0.1:9/", "127.0.0.0/8") is None
    assert _rule("http://127.1:9/", "127.0.0.1") is None
    assert _rule("http://localhost:9/", "localhost") is None
    assert _rule("http://[::1]:9/", "::1") is None
    # A CIDR of loopback does not open private or metadata addresses.
    assert _rule("http://10.0.0.1/", "127.0.0.0/8") == "private"
    assert _rule("http://169.254.169.254/", "127.0.0.0/8") == "cloud_metadata"
    # userinfo is refused whatever the list says.
    assert _rule("http://good@127.0.0.1/", "127.0.0.0/8") == "userinfo"


def check_the_refusal_says_what_to_do() -> None:
    try:
        outbound.check_url("http://0x7f000001:8000/", parse_allow(""))
    except HubError as err:
        assert err.details == {"rule": "loopback", "field": "url", "setting": "HUB_OUTBOUND_ALLOW"}
        assert "127.0.0.1" in err.message and "HUB_OUTBOUND_ALLOW=127.0.0.1/32" in err.message
    else:
        raise AssertionError("not refused")


class _Seen(BaseHTTPRequestHandler):
    hits: list[tuple[str, str]] = []
    redirect_to: str | None = None

    def do_GET(self) -> None:
        type(self).hits.append((self.path, self.headers.get("host", "")))
        if self.redirect_to and self.path == "/go":
            self.send_response(307)
            self.send_header("location", self.redirect_to)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a: object) -> None:
        pass


@contextmanager
def _server() -> Iterator[int]:
    _Seen.hits = []
    _Seen.redirect_to = None
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Seen)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def _get(url: str, allow: str, resolver: object = None, follow: bool = False) -> httpx2.Response:
    async def go() -> httpx2.Response:
        kw = {"resolver": resolver} if resolver else {}
        async with guarded_client(parse_allow(allow), **kw) as c:  # type: ignore[arg-type]
            return await c.get(url, follow_redirects=follow)

    return anyio.run(go)


def check_client_refuses_before_connecting() -> None:
    with _server() as port:
        for url in (
            f"http://127.1:{port}/x",
            f"http://0x7f000001:{port}/x",
            f"http://[::ffff:127.0.0.1]:{port}/",
        ):
            try:
                _get(url, "")
            except HubError as err:
                assert err.details["rule"] == "loopback"
            else:
                raise AssertionError(f"{url} was fetched")
        assert _Seen.hits == []


def check_allowed_loopback_is_reached() -> None:
    with _server() as port:
        r = _get(f"http://0x7f000001:{port}/hello", "127.0.0.0/8")
        assert r.status_code == 200 and r.json() == {"ok": True}
        assert _Seen.hits == [("/hello", f"0x7f000001:{port}")]


def check_the_checked_address_is_the_address_connected_to() -> None:
    """A rebinding name: first answer loopback (allowed), later a private one. Each request
    resolves once and connects to what it checked; the second is refused before connecting."""
    answers = [["127.0.0.1"], ["10.20.30.40"]]
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls) - 1, 1)]

    with _server() as port:
        r = _get(f"http://rebind.example:{port}/a", "127.0.0.0/8", rebinding)
        assert r.status_code == 200
        assert _Seen.hits == [("/a", f"rebind.example:{port}")]
        try:
            _get(f"http://rebind.example:{port}/b", "127.0.0.0/8", rebinding)
        except HubError as err:
            assert err.details["rule"] == "private"
        else:
            raise AssertionError("rebound address was fetched")
        assert calls == ["rebind.example", "rebind.example"]
        assert len(_Seen.hits) == 1


def check_redirects_are_rechecked() -> None:
    with _server() as port:
        _Seen.redirect_to = "http://169.254.169.254/latest/meta-data/"
        try:
            _get(f"http://127.0.0.1:{port}/go", "127.0.0.0/8", follow=True)
        except HubError as err:
            assert err.details["rule"] == "cloud_metadata"
        else:
            raise AssertionError("redirect to metadata was followed")
        _Seen.redirect_to = f"http://127.1:{port}/landed"
        r = _get(f"http://127.0.0.1:{port}/go", "127.0.0.0/8", follow=True)
        assert r.status_code == 200 and _Seen.hits[-1][0] == "/landed"
