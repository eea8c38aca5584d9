"""Apple Calendar over CalDAV, through real n8n, against a real CalDAV server (Radicale).

The sandbox runs Radicale behind its recording proxy with one test user (an Apple ID and an
app-specific password) and a calendar collection ``home``. Connecting is plain REST (an
api_key integration); events are checked through the hub and straight on the server."""

from __future__ import annotations

import base64
import logging
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
import vobject

from tests.e2e.test_secret_hygiene import dump_database
from tests.e2e.test_secret_hygiene_e2e import n8n_files_text

pytestmark = pytest.mark.n8n

WRONG_PASSWORD = "wxyz-wxyz-wxyz-wxyz"  # the right shape, not the test user's


def connect(live_hub, tenant, password: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Connect apple_calendar over REST with the sandbox's CalDAV user and ``password``."""
    cal = live_hub.sandbox.caldav_server()
    return live_hub.connect(
        tenant, "apple_calendar", {"apple_id": cal.user, "app_specific_password": password}
    )


def save_and_test(live_hub, tenant, conn_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = httpx.post(
        f"{live_hub.url}/api/connections/{conn_id}/test", headers=tenant.h("admin"), timeout=60
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def connection(live_hub, tenant, conn_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{live_hub.url}/api/connections/{conn_id}", headers=tenant.h("admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def on_server(live_hub, event_id: str) -> Any:  # type: ignore[no-untyped-def]
    """The event as Radicale stores it (bypassing the hub, n8n and the proxy)."""
    cal = live_hub.sandbox.caldav_server()
    r = httpx.get(f"{cal.url}{cal.calendar_path}", auth=(cal.user, cal.password), timeout=10)
    assert r.status_code == 200, r.text
    found = [
        ev for ev in vobject.readOne(r.text).contents.get("vevent", []) if ev.uid.value == event_id
    ]
    assert len(found) == 1, f"{event_id} is not on the CalDAV server once: {r.text[:2000]}"
    return found[0]


def put_directly(live_hub, uid: str, summary: str, start: str, end: str) -> None:  # type: ignore[no-untyped-def]
    """An event made on the server by another client (the owner's iPhone, say)."""
    cal = live_hub.sandbox.caldav_server()
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\n"
        "TZID:America/Chicago\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\n"
        "TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0600\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;TZID=America/Chicago:{start}\r\nDTEND;TZID=America/Chicago:{end}\r\n"
        f"SUMMARY:{summary}\r\nLOCATION:1 Oak Ave\\, Springfield\r\nSTATUS:TENTATIVE\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nSUMMARY:not the title\r\n"
        "END:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    r = httpx.put(
        f"{cal.url}{cal.calendar_path}{uid}.ics",
        content=ics,
        headers={"content-type": "text/calendar"},
        auth=(cal.user, cal.password),
        timeout=10,
    )
    assert r.status_code in (201, 204), r.text


def test_create_then_read_back_through_the_hub_and_on_the_server(live_hub):
    tenant = live_hub.tenant("apple")
    cal = live_hub.sandbox.caldav_server()
    conn = connect(live_hub, tenant, cal.password)
    tested = save_and_test(live_hub, tenant, conn["id"])
    assert tested["status"] == "connected", tested
    assert connection(live_hub, tenant, conn["id"])["status"] == "connected"

    live_hub.sandbox.clear()
    title = f"Window cleaning, Johnson; {uuid.uuid4().hex[:6]}"
    event = {
        "title": title,
        "start": "2026-03-03T09:00:00-06:00",
        "end": "2026-03-03T10:30:00-06:00",
        "location": "12 Elm St",
        "description": "Back gate code 4411.\nBring the long ladder.",
        "attendees": ["jo@example.com"],
    }
    made = live_hub.call(tenant, "create_calendar_event", event)
    assert made.status_code == 200, made.text
    data = made.json()["data"]
    assert data["start"] == "2026-03-03T15:00:00Z" and data["end"] == "2026-03-03T16:30:00Z"
    # what n8n sent: a PUT of one VEVENT to the collection, Basic auth with the user's password
    [put] = live_hub.sandbox.requests("apple_calendar")
    assert put.method == "PUT" and put.status == 201, (put.method, put.status, put.response_body)
    assert put.path.startswith("/owner%40icloud.example/home/") and put.path.endswith(".ics")
    assert put.content_type == "text/calendar"
    basic = base64.b64decode(put.headers["authorization"].split()[1]).decode()
    assert basic == f"{cal.user}:{cal.password}"

    stored = on_server(live_hub, data["event_id"])
    assert stored.summary.value == title  # the comma and semicolon survived escaping
    assert stored.description.value == event["description"]
    assert stored.location.value == "12 Elm St"
    assert stored.dtstart.value.isoformat() == "2026-03-03T15:00:00+00:00"
    assert stored.dtend.value.isoformat() == "2026-03-03T16:30:00+00:00"
    # send_invitations was false: the server must not email the attendee itself
    assert stored.attendee.value == "mailto:jo@example.com"
    assert stored.attendee.params["SCHEDULE-AGENT"] == ["CLIENT"]

    # Another client's event in the window (local time with a TZID), one outside it.
    tag = uuid.uuid4().hex[:8]  # the calendar outlives one backend's run: find ours by it
    other = f"iphone-{tag}"
    put_directly(live_hub, other, f"Quote visit {tag}", "20260303T113000", "20260303T120000")
    put_directly(live_hub, f"later-{other}", "Next day", "20260304T113000", "20260304T120000")
    window = {"time_min": "2026-03-03T08:00:00-06:00", "time_max": "2026-03-03T12:00:00-06:00"}
    listed = live_hub.call(tenant, "list_calendar_events", window)
    assert listed.status_code == 200, listed.text
    events = {e["event_id"]: e for e in listed.json()["data"]["events"]}
    assert events[data["event_id"]] == {
        "event_id": data["event_id"],
        "title": title,
        "start": "2026-03-03T15:00:00Z",
        "end": "2026-03-03T16:30:00Z",
        "all_day": False,
        "location": "12 Elm St",
        "status": "confirmed",
    }
    assert events[other] == {
        "event_id": other,
        "title": f"Quote visit {tag}",
        "start": "2026-03-03T11:30:00-06:00",
        "end": "2026-03-03T12:00:00-06:00",
        "all_day": False,
        "location": "1 Oak Ave, Springfield",
        "status": "tentative",
    }
    assert f"later-{other}" not in events
    starts = [
        datetime.fromisoformat(e["start"].replace("Z", "+00:00"))
        for e in listed.json()["data"]["events"]
    ]
    assert starts == sorted(starts)

    searched = live_hub.call(tenant, "list_calendar_events", {**window, "query": f"VISIT {tag}"})
    assert [e["event_id"] for e in searched.json()["data"]["events"]] == [other]
    paged = live_hub.call(tenant, "list_calendar_events", {**window, "max_results": 1})
    page = paged.json()["data"]
    assert len(page["events"]) == 1 and page["next_cursor"] == "1", page


def test_wrong_password_is_an_auth_error_and_the_connection_goes_to_error(live_hub):
    tenant = live_hub.tenant("applebad")
    # Saving runs Save & Test at once: Radicale refuses the password, the save says why.
    conn = connect(live_hub, tenant, WRONG_PASSWORD)
    tested = conn["test"]
    assert tested["tested"] is True and tested["status"] == "error", tested
    assert "refused the test call" in tested["message"], tested
    assert live_hub.sandbox.requests("apple_calendar")[-1].status == 401  # Radicale said so
    run = httpx.get(f"{live_hub.url}/api/runs/{tested['run_id']}", headers=tenant.h("admin")).json()
    assert run["error_kind"] == "auth" and run["vendor_status"] == 401, run
    assert "app-specific password" in run["error_message"], run
    assert "HTTP 401" in run["error_message"], run
    health = connection(live_hub, tenant, conn["id"])
    assert health["status"] == "error" and health["last_error_kind"] == "auth", health
    # An agent's read now fails fast, nothing sent, saying what to do.
    live_hub.sandbox.clear()
    r = live_hub.call(tenant, "list_calendar_events", {
        "time_min": "2026-03-03T08:00:00-06:00", "time_max": "2026-03-03T18:00:00-06:00"
    })  # fmt: skip
    assert r.status_code == 409 and r.json()["error"]["kind"] == "not_connected", r.text
    assert not live_hub.sandbox.requests("apple_calendar")
    again = save_and_test(live_hub, tenant, conn["id"])
    assert again["status"] == "error" and "refused the test call" in again["message"], again
    assert WRONG_PASSWORD not in r.text + str(tested) + str(run) + str(again)


def test_the_password_is_nowhere_but_the_vendors_request(live_hub, caplog, request):
    caplog.set_level(logging.DEBUG)
    request.addfinalizer(live_hub.sandbox.clear)
    tenant = live_hub.tenant("applecanary")
    cal = live_hub.sandbox.caldav_server()
    secret = cal.password  # random per sandbox: a canary that Radicale also accepts
    conn = connect(live_hub, tenant, secret)
    bodies = [str(conn), str(save_and_test(live_hub, tenant, conn["id"]))]
    live_hub.sandbox.clear()
    event = {"title": "Canary job", "start": "2026-03-05T09:00:00Z", "end": "2026-03-05T10:00:00Z"}
    made = live_hub.call(tenant, "create_calendar_event", event)
    assert made.status_code == 200, made.text
    window = {"time_min": "2026-03-05T00:00:00Z", "time_max": "2026-03-06T00:00:00Z"}
    bodies += [made.text, live_hub.call(tenant, "list_calendar_events", window).text]
    live_hub.sandbox.fault("apple_calendar", 503)
    bodies.append(live_hub.call(tenant, "list_calendar_events", window).text)
    # Positive control: the vendor really received the password, so the search can succeed.
    received = [r.headers.get("authorization", "") for r in live_hub.sandbox.requests()]
    basics = [base64.b64decode(h.split()[1]).decode() for h in received if h.startswith("Basic ")]
    assert any(secret in b for b in basics)

    time.sleep(2.5)  # n8n deletes execution data just after answering
    for path in ("/api/runs", f"/api/connections/{conn['id']}", "/api/audit?limit=500"):
        bodies.append(httpx.get(live_hub.url + path, headers=tenant.h("admin")).text)
    assert [b[:200] for b in bodies if secret in b] == []
    assert not [(t, c) for t, c, v in dump_database(live_hub.runtime.db.engine) if secret in v]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert secret not in logged
    files = n8n_files_text(live_hub.n8n.user_folder)
    assert [p for p, data in files.items() if secret.encode() in data] == []
    assert any(b"hub/apple_calendar/create_calendar_event/v1" in d for d in files.values())
    assert secret not in cal.log_path.read_text()  # Radicale masks passwords in its log
    assert "Successful login" in cal.log_path.read_text()
