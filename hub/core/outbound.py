"""The outbound URL guard (SECURITY 26): where an admin-supplied URL may make the hub connect.

A URL is refused when its host resolves to a loopback, private, link-local, CGNAT,
multicast, unspecified, reserved or cloud-metadata address, however the address is spelled
(decimal, hex or octal IPv4, short forms such as 127.1, IPv4-mapped or -embedded IPv6,
brackets), unless the operator's allow-list (HUB_OUTBOUND_ALLOW: host names or CIDRs) names
it. Credentials in the URL (userinfo) are refused outright: they hide the real host from a
reader and belong in the server's auth.

The host is resolved once per request and the connection goes to that checked address
(GuardedTransport rewrites the request to the IP and keeps Host and TLS SNI on the name), so
a DNS answer that changes between the check and the connect (rebinding) cannot redirect it.
Every request of a client is checked this way, so a redirect the MCP SDK follows is
re-checked as well.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2

from hub.core.errors import HubError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# A resolver: (host, port) -> the addresses it names. socket.getaddrinfo by default.
Resolver = Callable[[str, int], list[str]]

# Addresses of cloud instance-metadata services (some are otherwise public addresses).
METADATA_IPS = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.123",  # AWS time sync
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
        "fd00:ec2::254",  # AWS over IPv6
    )
)
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata", "metadata.azure.internal", "instance-data"}
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

RULE_TEXT = {
    "cloud_metadata": "cloud metadata",
    "unspecified": "unspecified",
    "loopback": "loopback",
    "link_local": "link-local",
    "cgnat": "carrier-grade NAT (CGNAT)",
    "multicast": "multicast",
    "private": "private",
    "reserved": "reserved",
    "not_global": "non-public",
}


@dataclass(frozen=True)
class Allow:
    """The operator's allow-list: host names and networks the guard lets through."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    def names(self, host: str, ip: IPAddress | None) -> bool:
        """Whether the list names this host, or a network holding this address."""
        if host.lower().rstrip(".") in self.hosts:
            return True
        return ip is not None and any(ip in n for n in self.networks if n.version == ip.version)


@lru_cache(maxsize=64)  # read on every remote call; an Allow is immutable
def parse_allow(text: str | None) -> Allow:
    """HUB_OUTBOUND_ALLOW: comma-separated host names, addresses or CIDRs."""
    hosts: set[str] = set()
    nets: list[Network] = []
    for raw in (text or "").split(","):
        item = raw.strip().strip("[]").lower()
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            hosts.add(item.rstrip("."))
    return Allow(frozenset(hosts), tuple(nets))


@dataclass(frozen=True)
class Target:
    """A checked URL: where the connection goes (ip) and what it is called (host)."""

    url: str
    scheme: str
    host: str
    port: int
    ip: str
    allowed_by_list: bool = False
    addresses: tuple[str, ...] = field(default=())


def refused(rule: str, message: str) -> HubError:
    """A refusal naming the rule and how to allow the address."""
    return HubError(
        "outbound_refused",
        message,
        details={"rule": rule, "field": "url", "setting": "HUB_OUTBOUND_ALLOW"},
    )


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: IPAddress) -> str | None:
    """The rule an address breaks, or None for a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            return classify(inner)
    if ip in METADATA_IPS:
        return "cloud_metadata"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return "cgnat"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not_global"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (numeric spellings included:
    libc reads 127.1, 0x7f000001, 2130706433 and 0177.0.0.1 as 127.0.0.1)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]
        if addr not in out:
            out.append(addr)
    return out


def check_url(url: str, allow: Allow, resolver: Resolver = system_resolver) -> Target:
    """Parse, resolve once and check an outbound URL; raise outbound_refused if not allowed."""
    try:
        parsed = httpx2.URL(url)
    except Exception as exc:
        # httpx2 rejects some spellings (octal IPv4 such as 0177.0.0.1); name the address
        # rule when libc would read it as a refused address, so the admin learns why.
        _check_unparsable(url, allow, resolver)
        raise refused("invalid_url", "That is not a valid URL: give http(s)://host/path.") from exc
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        raise refused("scheme", "Only http:// and https:// URLs are accepted.")
    if parsed.userinfo:
        raise refused(
            "userinfo",
            "The URL carries a user name or password before '@', which hides the host it "
            "really reaches. Remove it; give the server's credential in `auth` instead.",
        )
    host = parsed.host.strip("[]").lower()
    if not host:
        raise refused("invalid_url", "The URL has no host.")
    port = parsed.port or (443 if scheme == "https" else 80)
    if host.rstrip(".") in METADATA_HOSTS and not allow.names(host, None):
        raise refused(
            "cloud_metadata",
            "That host is a cloud metadata service; the hub never connects to it.",
        )
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise refused(
            "unresolvable",
            "The host of that URL does not resolve here; check the spelling and the hub's DNS.",
        ) from exc
    if not addresses:
        raise refused("unresolvable", "The host of that URL resolves to no address.")
    ips = [ipaddress.ip_address(a) for a in addresses]
    listed = False
    # Every address must pass: a name with one public and one private answer is refused.
    for ip in ips:
        rule = classify(ip)
        if rule is None:
            continue
        if allow.names(host, ip):
            listed = True
            continue
        raise refused(
            rule,
            f"That URL reaches {ip}, a {RULE_TEXT[rule]} address; the hub does not connect "
            "to such addresses from admin-supplied URLs (SSRF guard). If this server really "
            "is on such an address, the operator can allow it with HUB_OUTBOUND_ALLOW (host "
            f"names or CIDRs, comma-separated), e.g. HUB_OUTBOUND_ALLOW={ip}/{ip.max_prefixlen}.",
        )
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        ip=str(ips[0]),
        allowed_by_list=listed,
        addresses=tuple(str(i) for i in ips),
    )


def _check_unparsable(url: str, allow: Allow, resolver: Resolver) -> None:
    """Raise the address rule for a URL httpx2 cannot parse whose host libc resolves."""
    try:
        host = (urlsplit(url).hostname or "").strip("[]")
        addresses = resolver(host, 80) if host else []
    except (OSError, UnicodeError, ValueError):
        return
    for a in addresses:
        ip = ipaddress.ip_address(a)
        rule = classify(ip)
        if rule is not None and not allow.names(host, ip):
            raise refused(
                rule,
                f"That URL's host is a spelling of {ip}, a {RULE_TEXT[rule]} address; the hub "
                "does not connect to such addresses from admin-supplied URLs (SSRF guard). If "
                f"the server really is there, write it as {ip} and have the operator allow it "
                "with HUB_OUTBOUND_ALLOW.",
            )


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One TLS context for every outbound client: loading the CA bundle costs milliseconds,
    which a per-call client would pay on every remote tool call."""
    return ssl.create_default_context()


class GuardedTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that checks every request's URL and connects to the checked IP."""

    def __init__(
        self,
        allow: Allow,
        resolver: Resolver = system_resolver,
        inner: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.allow = allow
        self.resolver = resolver
        # trust_env=False: an HTTP(S)_PROXY from the environment would connect elsewhere.
        self._inner = inner or httpx2.AsyncHTTPTransport(trust_env=False, verify=tls_context())

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Check, pin to the resolved address, then send."""
        url = str(request.url)
        target = await anyio.to_thread.run_sync(check_url, url, self.allow, self.resolver)
        request.url = request.url.copy_with(host=target.ip)
        if target.scheme == "https":
            # Certificate and SNI stay on the name; only the TCP connect uses the IP.
            request.extensions = {**request.extensions, "sni_hostname": target.host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._inner.aclose()


def guarded_client(
    allow: Allow,
    *,
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
    resolver: Resolver = system_resolver,
) -> httpx2.AsyncClient:
    """An httpx2 client whose every request passes the guard (the MCP SDK's client factory
    signature); redirects are not followed by httpx2 (the SDK re-requests within origin)."""
    kwargs: dict[str, Any] = {
        "transport": GuardedTransport(allow, resolver),
        "follow_redirects": False,
        "trust_env": False,
        "timeout": timeout or httpx2.Timeout(30.0, read=300.0),
    }
    if headers is not None:
        kwargs["headers"] = headers
    if auth is not None:
        kwargs["auth"] = auth
    return httpx2.AsyncClient(**kwargs)


def allow_from(items: Iterable[str]) -> Allow:
    """An Allow from a list of entries (tests and `hub up`)."""
    return parse_allow(",".join(items))
