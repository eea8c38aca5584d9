"""send_contract through DocuSign (issue 11 item 4), connected by OAuth (issue 10).

Real parts only: the sandbox's authorization server (oidc-provider) stands in for
account.docusign.com, answering DocuSign's userinfo with the user's accounts; the eSignature
API is Prism serving DocuSign's own OpenAPI spec, answering only requests that carry a current
access token (introspection); the workflows run in a real n8n, which fetches the contract PDF
over TLS from a loopback server (tests.tls_kit) because DocuSign takes a document's bytes.
Connect events are signed by DocuSign's documented scheme (base64 HMAC-SHA256 of the raw body;
DocuSign ships no helper for it) over a body shaped like DocuSign's published Connect sample
(docusign/OpenAPI-Specifications, connect.schema-v2.json)."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub.sandbox.authserver import AuthServer
from tests.connections.oauth_kit import (
    DOCUSIGN_ACCOUNT,
    DOCUSIGN_OTHER_ACCOUNT,
    client_of,
    iter_tokens,
    register_apps,
    start_auth_server,
    stored_tokens,
)
from tests.e2e.test_calendars import connect as oauth_connect
from tests.e2e.test_secret_hygiene import dump_database
from tests.e2e.test_secret_hygiene_e2e import n8n_files_text
from tests.e2e.test_tools import assert_output, request_violations
from tests.helpers import canary
from tests.mcp.test_mcp import mcp_http, run
from tests.tls_kit import PDF, FileServer, LocalCA, https_files
from tests.webhooks import kit

pytestmark = pytest.mark.n8n

DS = "docusign"
ENVELOPES = f"/restapi/v2.1/accounts/{DOCUSIGN_ACCOUNT}/envelopes"
REASON = "The customer asked for the service agreement to sign today."


@pytest.fixture(scope="module")
def docusign(live_hub) -> Iterator[AuthServer]:  # type: ignore[no-untyped-def]
    """The authorization server standing in for DocuSign's; the eSignature API needs its tokens."""
    # Hour-long access tokens: the token a request carried is still the stored, current one
    # when the test looks (refresh at the edge has its own tests, tests/e2e/test_calendars.py).
    server = start_auth_server([f"{live_hub.url}/oauth/callback"], access_ttl=3600)
    register_apps(live_hub.runtime, server)
    live_hub.sandbox.require_tokens(DS, server.token_check(DS))
    yield server
    live_hub.sandbox.state.token_checks.pop(live_hub.sandbox.vendor(DS), None)
    server.stop()


@pytest.fixture(scope="module")
def docs(test_ca, tmp_path_factory) -> Iterator[FileServer]:  # type: ignore[no-untyped-def]
    """The contract PDF at a public-looking https link (loopback, a certificate n8n trusts)."""
    with https_files(test_ca, tmp_path_factory.mktemp("docs"), {"/agreement.pdf": PDF}) as srv:
        yield srv


def connect(live_hub, server: AuthServer, tenant) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Connect DocuSign by OAuth (API at the sandbox); Save & Test runs on the callback."""
    conn = oauth_connect(live_hub, server, tenant, DS)
    assert conn["status"] == "connected", conn
    return conn


def contract(docs: FileServer, **extra: Any) -> dict[str, Any]:
    """send_contract arguments for the PDF on the loopback server."""
    return {
        "title": "Window cleaning service agreement",
        "signers": [
            {"name": "Pat Doe", "email": "pat@example.com"},
            {"name": "Sam Roe", "email": "sam@example.com"},
        ],
        "document_url": f"{docs.url}/agreement.pdf",
        **extra,
    }


def current_token(live_hub, server: AuthServer, tenant, conn_id: str) -> str:  # type: ignore[no-untyped-def]
    """The connection's stored access token, checked current at the authorization server."""
    token = stored_tokens(live_hub.runtime, tenant.id, conn_id)["access_token"]
    assert server.introspect(token, client_of(server, DS))["active"] is True
    return token


def connect_event(envelope_id: str, account_id: str, event: str = "envelope-completed") -> bytes:
    """A Connect (JSON, SIM) event as DocuSign sends it, with a unique generatedDateTime."""
    when = f"2026-03-02T19:41:{secrets.randbelow(60):02d}.{secrets.randbelow(10**7):07d}Z"
    status = {"envelope-completed": "completed", "envelope-declined": "declined"}.get(event, "sent")
    return json.dumps(
        {
            "event": event,
            "apiVersion": "v2.1",
            "uri": f"/restapi/v2.1/accounts/{account_id}/envelopes/{envelope_id}",
            "retryCount": 0,
            "configurationId": 10593331,
            "generatedDateTime": when,
            "data": {
                "accountId": account_id,
                "userId": str(uuid.uuid4()),
                "envelopeId": envelope_id,
                "envelopeSummary": {
                    "status": status,
                    "emailSubject": "Window cleaning service agreement",
                    "envelopeId": envelope_id,
                    "documentsCombinedUri": f"/envelopes/{envelope_id}/documents/combined",
                    "completedDateTime": when,
                    "recipients": {
                        "signers": [
                            {"name": "Pat Doe", "email": "pat@example.com", "status": status}
                        ]
                    },
                },
            },
        }
    ).encode()


def post_event(url: str, body: bytes, signature: str) -> httpx.Response:
    """POST a Connect event to the hub's endpoint, signed as given."""
    return httpx.post(
        url,
        content=body,
        headers={"content-type": "application/json", "X-DocuSign-Signature-1": signature},
        timeout=30,
    )


def events_of(live_hub, tenant) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The tenant's stored DocuSign events, newest first."""
    r = httpx.get(f"{live_hub.url}/api/events", params={"provider": DS}, headers=tenant.h("admin"))
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def delivered(live_hub, tenant, event_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Wait for the delivery worker to finish one event; its record."""
    deadline = time.monotonic() + 60
    while True:
        ev = httpx.get(f"{live_hub.url}/api/events/{event_id}", headers=tenant.h("admin")).json()
        if ev["status"] in ("delivered", "dead"):
            return dict(ev)
        assert time.monotonic() < deadline, ev
        time.sleep(0.1)


def test_connect_then_send_a_document_for_signature(live_hub, docusign, docs):
    tenant = live_hub.tenant("ds")
    conn = connect(live_hub, docusign, tenant)
    # Save & Test ran on the callback: the account found at userinfo, read with the token.
    tested = live_hub.sandbox.requests(DS)[-1]
    assert (tested.method, tested.path, tested.status) == (
        "GET",
        ENVELOPES[: -len("/envelopes")],
        200,
    )
    assert conn["account_label"] == "Sparkle Window Cleaning"
    live_hub.sandbox.clear()
    docs.seen.clear()
    args = contract(docs, message="Please sign by Friday.", cc_emails=["office@sparkle.test"])
    r = live_hub.call(tenant, "send_contract", args, reasoning=REASON)
    assert r.status_code == 200, r.text
    out = r.json()
    data = out["data"]
    assert data["status"] == "sent" and uuid.UUID(data["contract_id"])
    assert data["signing_url"] is None
    assert_output(live_hub, "send_contract", data)  # the same contract as Dropbox Sign's
    (posted,) = live_hub.sandbox.requests(DS)
    assert (posted.method, posted.path, posted.status) == ("POST", ENVELOPES, 201)
    assert request_violations(posted) == [], posted.violations
    token = current_token(live_hub, docusign, tenant, conn["id"])
    assert posted.headers["authorization"] == f"Bearer {token}"
    sent = json.loads(posted.body)
    assert sent["status"] == "sent" and sent["emailSubject"] == args["title"]
    assert sent["emailBlurb"] == "Please sign by Friday."
    (document,) = sent["documents"]
    assert base64.b64decode(document["documentBase64"]) == PDF  # the bytes, fetched by n8n
    assert document["fileExtension"] == "pdf" and document["documentId"] == "1"
    assert sent["recipients"]["signers"] == [
        {"name": "Pat Doe", "email": "pat@example.com", "recipientId": "1", "routingOrder": "1"},
        {"name": "Sam Roe", "email": "sam@example.com", "recipientId": "2", "routingOrder": "2"},
    ]
    assert sent["recipients"]["carbonCopies"] == [
        {
            "email": "office@sparkle.test",
            "name": "office@sparkle.test",
            "recipientId": "3",
            "routingOrder": "3",
        }
    ]
    assert sent["customFields"]["textCustomFields"][0]["value"] == out["run_id"]
    # The document link got a plain GET: nothing of the credentials went to the caller's host.
    assert [p for p, _ in docs.seen] == ["/agreement.pdf"]
    assert not any("authorization" in h or token in json.dumps(h) for _, h in docs.seen)
    assert token not in r.text


def test_send_a_saved_template_over_mcp(live_hub, docusign):
    tenant = live_hub.tenant("dst")
    connect(live_hub, docusign, tenant)
    live_hub.sandbox.clear()
    args = {
        "title": "Annual maintenance plan",
        "signers": [{"name": "Pat Doe", "email": "pat@example.com", "role": "Client"}],
        "template_id": "5c4b3a29-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
        "reasoning": REASON,
    }

    async def body() -> dict[str, Any]:
        async with mcp_http(live_hub, tenant.agent) as c:
            r = await c.call_tool("send_contract", args)
            assert not r.is_error, r.content
            return dict(r.structured_content or {})

    out = run(body)
    assert out["status"] == "succeeded" and out["data"]["status"] == "sent", out
    (posted,) = live_hub.sandbox.requests(DS)
    assert posted.path == ENVELOPES and posted.status == 201
    assert request_violations(posted) == [], posted.violations
    sent = json.loads(posted.body)
    assert sent["templateId"] == args["template_id"] and "documents" not in sent
    assert sent["templateRoles"] == [
        {"name": "Pat Doe", "email": "pat@example.com", "roleName": "Client", "routingOrder": "1"}
    ]


def test_a_document_that_cannot_be_fetched_sends_nothing(live_hub, docusign, docs):
    tenant = live_hub.tenant("dsn")
    connect(live_hub, docusign, tenant)
    live_hub.sandbox.clear()
    missing = {**contract(docs), "document_url": f"{docs.url}/gone.pdf"}
    r = live_hub.call(tenant, "send_contract", missing, reasoning=REASON)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["kind"] == "invalid_request" and "could not be fetched (HTTP 404)" in err["message"]
    assert "nothing was sent to DocuSign" in err["message"]
    assert live_hub.sandbox.requests(DS) == []


def test_a_document_behind_an_untrusted_certificate_is_not_fetched(live_hub, docusign, tmp_path):
    """n8n verifies the document host's certificate (the tests' CA is trusted, not any)."""
    tenant = live_hub.tenant("dsu")
    connect(live_hub, docusign, tenant)
    live_hub.sandbox.clear()
    stranger = LocalCA.create(tmp_path)
    with https_files(stranger, tmp_path, {"/agreement.pdf": PDF}) as srv:
        r = live_hub.call(tenant, "send_contract", contract(srv), reasoning=REASON)
    assert r.status_code == 422, r.text
    msg = r.json()["error"]["message"]
    assert "could not be fetched (its TLS certificate is not trusted)" in msg, msg
    assert live_hub.sandbox.requests(DS) == []


def test_save_and_test_passes_then_names_the_vendors_reason_for_a_revoked_token(live_hub, docusign):
    tenant = live_hub.tenant("dss")
    conn = connect(live_hub, docusign, tenant)
    url = f"{live_hub.url}/api/connections/{conn['id']}/test"
    r = httpx.post(url, headers=tenant.h("admin"), timeout=60)
    assert r.json() | {"run_id": None} == {
        "status": "connected",
        "tested": True,
        "message": "Connected: DocuSign answered the test call. DocuSign accepted the token "
        "for account Sparkle Window Cleaning.",
        "run_id": None,
    }
    tok = stored_tokens(live_hub.runtime, tenant.id, conn["id"])
    c = client_of(docusign, DS)
    for kind in ("access_token", "refresh_token"):
        httpx.post(
            docusign.revoke_url,
            data={"token": tok[kind], "token_type_hint": kind},
            auth=(c.client_id, c.client_secret),
        ).raise_for_status()
    r = httpx.post(url, headers=tenant.h("admin"), timeout=60)
    got = r.json()
    assert got["status"] == "error" and got["tested"] is True, got
    assert got["message"] == (
        "DocuSign refused the test call: DocuSign: The access token provided is expired, "
        "revoked or malformed. (AUTHORIZATION_INVALID_TOKEN)"
    )
    refused = live_hub.sandbox.requests(DS)[-1]
    assert (
        refused.status == 401
        and refused.headers["authorization"] == f"Bearer {tok['access_token']}"
    )
    after = httpx.get(f"{live_hub.url}/api/connections/{conn['id']}", headers=tenant.h("admin"))
    assert after.json()["status"] == "error" and after.json()["last_error_kind"] == "auth"


def test_a_signed_connect_event_marks_the_run_signed_with_the_document_url(
    live_hub, docusign, docs, caplog
):
    caplog.set_level(logging.DEBUG)
    tenant = live_hub.tenant("dse")
    conn = connect(live_hub, docusign, tenant)
    hmac_key = canary("connect-key-")  # the Connect HMAC key, planted as a canary
    r = httpx.put(
        f"{live_hub.url}/api/connections/{conn['id']}/webhook",
        json={"signing_secret": hmac_key},
        headers=tenant.h("admin"),
    )
    assert r.status_code == 200, r.text
    hook = r.json()["webhook_url"]
    answers = [r.text]
    other = live_hub.tenant("dso")  # a second tenant, with its own DocuSign and key
    other_conn = connect(live_hub, docusign, other)
    other_key = canary("connect-key-")
    r = httpx.put(
        f"{live_hub.url}/api/connections/{other_conn['id']}/webhook",
        json={"signing_secret": other_key},
        headers=other.h("admin"),
    )
    other_hook = r.json()["webhook_url"]
    live_hub.sandbox.clear()
    sent = live_hub.call(tenant, "send_contract", contract(docs), reasoning=REASON)
    assert sent.status_code == 200, sent.text
    answers.append(sent.text)
    run_id, envelope_id = sent.json()["run_id"], sent.json()["data"]["contract_id"]
    body = connect_event(envelope_id, DOCUSIGN_ACCOUNT)
    signature = kit.docusign_signature(hmac_key, body)

    # One changed byte, another tenant's key: refused, and stored nowhere.
    changed = body.replace(b'"completed"', b'"complete_"', 1)
    for url, content, sig in (
        (hook, changed, signature),
        (hook, body, kit.docusign_signature(other_key, body)),
        (other_hook, body, signature),
    ):
        refused = post_event(url, content, sig)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["kind"] == "invalid_signature"
        answers.append(refused.text)
    assert events_of(live_hub, tenant) == [] and events_of(live_hub, other) == []

    # Signed with this tenant's key but about another DocuSign account: kept, not applied.
    stray = connect_event(envelope_id, DOCUSIGN_OTHER_ACCOUNT)
    ok = post_event(hook, stray, kit.docusign_signature(hmac_key, stray))
    assert ok.status_code == 200, ok.text
    ev = delivered(live_hub, tenant, ok.json()["event_id"])
    assert ev["result"]["ignored"] == "the event is for another DocuSign account"
    run = httpx.get(f"{live_hub.url}/api/runs/{run_id}", headers=tenant.h("agent")).json()
    assert "signed" not in run["result"]

    ok = post_event(hook, body, signature)
    assert ok.status_code == 200 and ok.json()["duplicate"] is False, ok.text
    ev = delivered(live_hub, tenant, ok.json()["event_id"])
    assert ev["status"] == "delivered" and ev["type"] == "envelope-completed", ev
    assert ev["result"]["runs_marked"] == [run_id]
    assert ev["result"]["handled_by"] == "docusign/on_event v1"  # the n8n handler ran too
    run = httpx.get(f"{live_hub.url}/api/runs/{run_id}", headers=tenant.h("agent")).json()
    base = live_hub.sandbox.base_url(DS)
    assert run["result"]["contract_id"] == envelope_id
    assert run["result"]["signed"] is True and run["result"]["status"] == "signed"
    assert run["result"]["document_url"] == (f"{base}{ENVELOPES}/{envelope_id}/documents/combined")
    assert run["result"]["status_event_id"] == ev["id"]
    # The signed body was believed as sent: nothing was read back from DocuSign.
    assert [(q.method, q.path) for q in live_hub.sandbox.requests(DS)] == [("POST", ENVELOPES)]
    again = post_event(hook, body, signature)  # DocuSign's retry: acknowledged, not redone
    assert again.status_code == 200 and again.json()["duplicate"] is True
    answers += [ok.text, again.text, json.dumps(run), json.dumps(ev)]

    # The canaries: the HMAC key and the OAuth tokens and client secret are nowhere.
    tokens = list(iter_tokens(stored_tokens(live_hub.runtime, tenant.id, conn["id"])))
    secrets_ = [hmac_key, other_key, client_of(docusign, DS).client_secret, *tokens]
    posted = [q for q in live_hub.sandbox.requests(DS) if q.method == "POST"]
    # Positive control: the vendor did get the token, so a search for it can succeed.
    assert posted[0].headers["authorization"] == f"Bearer {tokens[0]}"
    time.sleep(2.5)  # n8n deletes execution data just after answering
    for path in (
        "/api/runs",
        f"/api/runs/{run_id}",
        f"/api/connections/{conn['id']}",
        "/api/events?provider=docusign",
        f"/api/events/{ev['id']}",
        "/api/audit?limit=500",
    ):
        answers.append(httpx.get(live_hub.url + path, headers=tenant.h("admin")).text)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    stored = dump_database(live_hub.runtime.db.engine)
    n8n_files = n8n_files_text(live_hub.n8n.user_folder)
    for secret in secrets_:
        assert [a[:200] for a in answers if secret in a] == []
        assert secret not in logged
        assert not [(t, c) for t, c, v in stored if secret in v]
        assert [p for p, d in n8n_files.items() if secret.encode() in d] == []
