"""The outbound URL guard (hub.core.outbound, SECURITY 26).

Everything that resolves or connects runs inside a loopback-only network namespace
(tests.netns), so even a broken guard could not reach another machine. The pure address
classification runs here directly: it neither resolves nor connects.
"""

from __future__ import annotations

import ipaddress

import pytest

from hub.core.outbound import classify, parse_allow
from tests.netns import run_checks


def test_guard_checks_inside_a_loopback_only_namespace() -> None:
    out = run_checks("tests.core.outbound_checks")
    assert "0 failed" in out and "ok   check_every_spelling_is_refused_with_its_rule" in out


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("100.127.255.255", "cgnat"),
        ("169.254.169.254", "cloud_metadata"),
        ("168.63.129.16", "cloud_metadata"),
        ("fe80::1", "link_local"),
        ("239.1.1.1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address under test, not a bind)
        ("240.0.0.1", "private"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_classify(address: str, rule: str | None) -> None:
    assert classify(ipaddress.ip_address(address)) == rule


def test_parse_allow() -> None:
    a = parse_allow(" 127.0.0.0/8, localhost ,[::1], MCP.Example.com. ,")
    assert a.hosts == frozenset({"localhost", "mcp.example.com"})
    assert [str(n) for n in a.networks] == ["127.0.0.0/8", "::1/128"]
