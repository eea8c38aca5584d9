"""A vendor that echoes a credential in an encoded form: the agent, the run and the audit log
get it scrubbed (literal echoes are covered in test_secret_hygiene_e2e.py).

Mailgun authenticates with basic auth (`api:<key>`) and its keys have no fixed form, so a key
with reserved characters shows every encoding: base64 of the basic-auth pair and of the key
alone, percent-encoding and hex. The sandbox plays a Mailgun whose error message quotes it.
"""

from __future__ import annotations

import base64
import secrets
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.test_secret_hygiene import dump_database


def forms(key: str) -> dict[str, str]:
    """The encodings a vendor might echo the key in."""
    return {
        "basic_auth_pair": base64.b64encode(f"api:{key}".encode()).decode(),
        "base64_alone": base64.b64encode(key.encode()).decode(),
        "percent_encoded": quote(key, safe=""),
        "hex": key.encode().hex(),
    }


@pytest.mark.parametrize("form", sorted(forms("x")))
def test_an_encoded_key_in_a_vendor_error_reaches_nobody(live_hub, form, request):
    request.addfinalizer(live_hub.sandbox.clear)
    t = live_hub.tenant("enc")
    key = f"key-{secrets.token_hex(12)}/+=&?{secrets.token_hex(4)}"
    live_hub.connect(
        t,
        "mailgun",
        {
            "api_key": key,
            "domain": "mg.example.com",
            "region": "us",
            "from_email": "office@mg.example.com",
        },
    )
    echoed = forms(key)[form]
    assert key not in echoed  # the form really is an encoding, not the key itself
    live_hub.sandbox.clear()
    live_hub.sandbox.fault(
        "mailgun",
        400,
        body={"message": f"Bad request with Authorization: Basic {echoed} (key {echoed})"},
    )
    r = live_hub.call(t, "send_email", {"to": ["ann@example.com"], "subject": "s", "text": "t"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["vendor_status"] == 400 and "[redacted]" in err["message"]
    run = httpx.get(f"{live_hub.url}/api/runs/{r.json()['run_id']}", headers=t.h("admin"))
    audit = httpx.get(f"{live_hub.url}/api/audit?limit=200", headers=t.h("admin"))
    for text in (r.text, run.text, audit.text):
        assert echoed not in text and key not in text
    rows = [(tb, col) for tb, col, v in dump_database(live_hub.runtime.db.engine) if echoed in v]
    assert rows == []
