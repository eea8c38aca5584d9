"""The native stack's HAProxy config: the shape of deploy/haproxy.cfg, on loopback ports."""

from __future__ import annotations

from pathlib import Path


def haproxy_config(listen_port: int, hubs: dict[str, int], errors_dir: Path) -> str:
    """A config balancing ``listen_port`` over ``hubs`` (name -> port), checked on /healthz.

    Not /readyz: a database outage hits every replica alike, and each answers it with a
    clear 503 ``database_unavailable``, better than the balancer's own "no server" page.

    Only a failed connection is retried on another hub: a request a hub received is never
    sent twice (it could repeat a charge); its caller gets the error instead.
    """
    servers = "\n".join(f"    server {name} 127.0.0.1:{port}" for name, port in hubs.items())
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 3s
    timeout client 75s
    timeout server 75s
    timeout http-request 10s
    errorfile 502 {errors_dir}/502.http
    errorfile 503 {errors_dir}/503.http
    errorfile 504 {errors_dir}/504.http
    retries 2
    option redispatch 1
    retry-on conn-failure
    default-server check inter 1s fall 1 rise 2

frontend hub
    bind 127.0.0.1:{listen_port}
    default_backend hubs

backend hubs
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    # Which replica answered: for ops staff reading a client's report, and the tests.
    http-response set-header X-Hub-Replica %s
{servers}
"""
