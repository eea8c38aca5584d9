"""Requests racing on one connection get 404 or 409, never a 5xx (a real server, threads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from hub.app import create_app
from hub.runtime import Runtime
from tests.conftest import TenantKit
from tests.helpers import twilio_credentials
from tests.live_hub import free_port, serve_in_thread


@pytest.fixture(scope="module")
def served(hub_runtime: Runtime) -> Iterator[str]:
    """The session's hub on a real port."""
    port = free_port()
    server = serve_in_thread(create_app(runtime=hub_runtime), port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    time.sleep(0.3)


def race(c: httpx.Client, cid: str, label: str) -> list[httpx.Response]:
    """PATCH and DELETE one connection at the same moment; both answers."""
    answers: list[httpx.Response] = []
    start = threading.Barrier(2)

    def patch() -> None:
        start.wait()
        answers.append(c.patch(f"/api/connections/{cid}", json={"account_label": label}))

    def delete() -> None:
        start.wait()
        answers.append(c.delete(f"/api/connections/{cid}"))

    threads = [threading.Thread(target=patch), threading.Thread(target=delete)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_patch_and_delete_at_once_answer_404_or_409(served: str, tenant: TenantKit):
    seen: set[int] = set()
    with httpx.Client(base_url=served, headers=tenant.h("admin"), timeout=30) as c:
        for i in range(12):
            r = c.post(
                "/api/connections",
                json={"integration": "twilio", "credentials": twilio_credentials()},
            )
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
            for a in race(c, cid, f"n{i}"):
                seen.add(a.status_code)
                assert a.status_code in (200, 204, 404, 409), (a.status_code, a.text)
                if a.status_code >= 400:
                    assert a.json()["error"]["kind"] in ("not_found", "conflict")
            assert c.get(f"/api/connections/{cid}").status_code == 404  # the delete won
    assert 204 in seen
