"""The console, driven by a real headless Chromium (Playwright) against a live hub (real port,
real n8n, the vendor sandbox): sign-in and sessions, CSRF, roles, the authorization queue
(Allow Once runs the call through n8n; Deny sends the note), the integrations catalog and its
connect form (masked hints only), runs and the audit log. Screenshots of every page go to
test-artifacts/screenshots/ for a human to look at."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from hub.accounts import service as accounts
from hub.accounts.models import ConsoleSession
from tests.helpers import canary, stripe_credentials, twilio_credentials

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-battery-staple"
REASONING = (
    'Customer <b>Johnson</b> approved the 750.00 quote in writing & said "charge the card" '
    "<script>window.pwned = 1</script>"
)


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, launched by Playwright (which downloads nothing)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def hub(live_hub: Any) -> Any:
    return live_hub


@pytest.fixture
def ctx(browser: Browser, hub: Any) -> Iterator[BrowserContext]:
    """A fresh browser profile on a laptop-sized screen."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=hub.url)
    context.set_default_timeout(30_000)
    yield context
    context.close()


@pytest.fixture
def page(ctx: BrowserContext) -> Page:
    return ctx.new_page()


@pytest.fixture
def backend_name(live_hub: Any) -> str:
    return "sqlite" if live_hub.runtime.db.url.startswith("sqlite") else "postgres"


def shot(page: Page, backend: str, name: str, *, full: bool = True) -> None:
    """Save a screenshot (the whole page, or what a 1366x768 screen shows) for review."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{backend}-{name}.png"), full_page=full)


def make_user(hub: Any, tenant: Any, role: str) -> str:
    """A console user of the tenant; returns the email (the password is PASSWORD)."""
    email = f"{role}-{secrets.token_hex(4)}@example.test"
    with hub.runtime.db.session() as s:
        accounts.create_user(s, tenant.id, email, PASSWORD, role=role, name=role.title())
    return email


def login(page: Page, email: str, password: str = PASSWORD, path: str = "/login") -> None:
    page.goto(path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def connect(hub: Any, tenant: Any, integration: str, credentials: dict[str, str]) -> None:
    """live_hub.connect, then wait until the connection is committed."""
    from hub.connections.service import connection_for

    hub.connect(tenant, integration, credentials)
    for _ in range(300):
        with hub.runtime.db.session() as s:
            if connection_for(s, tenant.id, integration) is not None:
                return
        time.sleep(0.01)
    raise AssertionError(f"{integration} connection never appeared")


def charge(amount: int, customer: str) -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": "USD",
        "customer_id": customer,
        "payment_method_id": "pm_card_visa",
    }


def queue_charge(hub: Any, tenant: Any, customer: str, **extra: Any) -> str:
    """An agent's charge over the default 500.00 USD threshold: queued, nothing sent."""
    r = hub.call(tenant, "charge_card", charge(75000, customer), reasoning=REASONING, **extra)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "authorization_required"
    return r.json()["queue_id"]


def stripe_requests(hub: Any, customer: str) -> list[Any]:
    return [r for r in hub.sandbox.requests("stripe") if customer.encode() in r.body]


def auth_status(hub: Any, queue_id: str) -> str:
    from hub.permissions.models import Authorization

    with hub.runtime.db.session() as s:
        return s.get(Authorization, queue_id).status


def new_customer() -> str:
    return f"cus_{secrets.token_hex(6)}"


# ---------------------------------------------------------------- the main flow


def test_allow_once_runs_the_queued_charge(hub, page, backend_name):
    t = hub.tenant("con")
    owner = make_user(hub, t, "owner")
    connect(hub, t, "stripe", stripe_credentials())
    customer = new_customer()
    queue_id = queue_charge(hub, t, customer)
    assert stripe_requests(hub, customer) == []

    # Not signed in: the page sends the browser to sign in, then back.
    page.goto("/authorizations")
    assert urlsplit(page.url).path == "/login"
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/authorizations"]
    page.get_by_label("Email").fill(owner)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/authorizations$"))

    expect(page.locator("#pending-count")).to_have_text("[1 pending]")
    card = page.locator(f"article#{queue_id}")
    expect(card.get_by_role("heading", level=2)).to_contain_text("Charge a saved card")
    expect(card.locator(".target")).to_have_text(
        f"charge 750.00 USD to customer {customer} via Stripe"
    )
    expect(card.locator(".reason")).to_contain_text("over this business's limit of 50000")
    expect(card.locator(".agent")).to_have_text("test-agent (agent token)")
    # The model's reasoning is quoted as text: its markup is not markup here.
    expect(card.locator("blockquote")).to_have_text(f"“{REASONING}”")
    assert card.locator("blockquote b").count() == 0
    assert page.evaluate("window.pwned") is None
    expect(card.locator(".age time")).to_have_text(re.compile(r"just now|minutes? ago"))
    expect(card.locator("dd time")).to_have_text(re.compile(r"in (23|24) hours"))
    shot(page, backend_name, "authorizations-pending")

    card.get_by_role("button", name="Allow Once").click()
    expect(page).to_have_url(re.compile(rf"/authorizations\?decided={queue_id}$"))
    result = page.locator("#decision-result")
    expect(result).to_contain_text("Allowed once")
    expect(result).to_contain_text("The call succeeded")
    run_link = result.get_by_role("link", name=re.compile(r"^run_"))
    run_id = run_link.inner_text()
    expect(page.locator("#pending-count")).to_have_text("[0 pending]")
    history = page.locator(f"#h-{queue_id}")
    expect(history).to_have_attribute("data-status", "authorized")
    expect(history).to_contain_text("allowed once")
    shot(page, backend_name, "authorizations-decided")

    # The REST run record agrees, and the vendor saw exactly one charge.
    r = httpx.get(f"{hub.url}/api/runs/{run_id}", headers=t.h("admin"))
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["status"] == "succeeded" and run["tool"] == "charge_card"
    assert run["provider"] == "stripe" and run["args"]["customer_id"] == customer
    assert run["result"]["payment_id"] and run["result"]["status"]
    assert len(stripe_requests(hub, customer)) == 1
    r = httpx.get(f"{hub.url}/api/authorizations/{queue_id}", headers=t.h("admin"))
    assert r.json()["status"] == "authorized" and r.json()["run_id"] == run_id
    assert r.json()["decided_by"].startswith("user:usr_")

    # The run's own page, reached from the outcome link.
    run_link.click()
    expect(page).to_have_url(re.compile(rf"/runs/{run_id}$"))
    expect(page.locator("#run-status")).to_have_text("succeeded")
    expect(page.locator("#run-result")).to_contain_text(run["result"]["payment_id"])
    expect(page.locator(".target")).to_have_text(
        f"charge 750.00 USD to customer {customer} via Stripe"
    )
    shot(page, backend_name, "run-detail")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    row = page.locator(f"tr[data-id='{run_id}']")
    expect(row).to_contain_text("charge_card")
    expect(row).to_contain_text("Stripe")
    expect(row.locator(".badge")).to_have_text("succeeded")
    shot(page, backend_name, "runs")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/runs\?status=failed"))
    expect(page.locator(f"tr[data-id='{run_id}']")).to_have_count(0)
    assert len(stripe_requests(hub, customer)) == 1


def test_an_approved_call_that_fails_shows_its_error(hub, page, backend_name):
    t = hub.tenant("con")
    owner = make_user(hub, t, "owner")
    key = canary("sk_test_")
    connect(hub, t, "stripe", stripe_credentials(key))
    customer = new_customer()
    queue_id = queue_charge(hub, t, customer)
    login(page, owner)
    hub.sandbox.fault("stripe", 401)  # the vendor refuses the key on the next request
    try:
        page.locator(f"article#{queue_id}").get_by_role("button", name="Allow Once").click()
        result = page.locator("#decision-result")
        expect(result).to_contain_text("Allowed once")
        expect(result).to_contain_text("The call ended: failed")
        run_id = result.get_by_role("link", name=re.compile(r"^run_")).inner_text()
    finally:
        hub.sandbox.clear()
    run = httpx.get(f"{hub.url}/api/runs/{run_id}", headers=t.h("admin")).json()
    assert run["status"] == "failed" and run["error_kind"] == "auth"
    expect(result.locator(".err")).to_contain_text("auth:")

    page.goto("/runs?status=failed")
    row = page.locator(f"tr[data-id='{run_id}']")
    expect(row.locator(".badge")).to_have_text("failed")
    expect(row.locator(".err-cell")).to_contain_text("auth")
    shot(page, backend_name, "runs-failed")
    seen = [page.content()]
    row.get_by_role("link", name=run_id).click()
    expect(page.locator("#run-error")).to_contain_text("auth")
    seen.append(page.content())
    # The failure marks the connection: the integrations page shows it in red.
    page.goto("/integrations")
    expect(page.locator("li#stripe")).to_have_attribute("data-status", "error")
    seen.append(page.content())
    assert all(key not in html and key[-12:] not in html for html in seen)


def test_deny_sends_the_note_to_the_agent(hub, page, backend_name):
    t = hub.tenant("con")
    owner = make_user(hub, t, "admin")
    connect(hub, t, "stripe", stripe_credentials())
    customer = new_customer()
    key = f"deny-{secrets.token_hex(4)}"
    queue_id = queue_charge(hub, t, customer, idempotency_key=key)
    login(page, owner, path="/login?next=/authorizations")

    note = "Not before the job is signed off <i>by the client</i>."
    card = page.locator(f"article#{queue_id}")
    card.get_by_label("Note to the agent").fill(note)
    card.get_by_role("button", name="Deny").click()
    expect(page.locator("#decision-result")).to_contain_text("Denied")
    expect(page.locator("#decision-result")).to_contain_text(note)
    item = page.locator(f"#h-{queue_id}")
    expect(item).to_have_attribute("data-status", "denied")
    expect(item.locator(".hist-note")).to_have_text(f"Note: “{note}”")
    shot(page, backend_name, "authorizations-history")

    retry = hub.call(
        t, "charge_card", charge(75000, customer), reasoning=REASONING, idempotency_key=key
    )
    assert retry.status_code == 403
    err = retry.json()["error"]
    assert err["kind"] == "denied" and err["notes"] == note
    assert stripe_requests(hub, customer) == []


# ---------------------------------------------------------------- sign-in and sessions


def test_sign_in_is_required_and_failures_are_generic(hub, page, ctx, backend_name):
    t = hub.tenant("con")
    email = make_user(hub, t, "ops")
    page.goto("/runs?status=failed")
    assert urlsplit(page.url).path == "/login"
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/runs?status=failed"]
    shot(page, backend_name, "login")

    answers = []
    for who, pw in ((email, "not-the-password-at-all"), (f"nobody-{email}", PASSWORD)):
        page.get_by_label("Email").fill(who)
        page.get_by_label("Password").fill(pw)
        with page.expect_response(lambda r: r.request.method == "POST") as resp:
            page.get_by_role("button", name="Sign in").click()
        answers.append((resp.value.status, page.locator("#login-error").inner_text()))
        assert not any(c["name"].endswith("hub_session") for c in ctx.cookies())
    # A wrong password and an unknown email read the same: nothing tells them apart.
    assert answers == [(401, "Email or password is incorrect.")] * 2
    shot(page, backend_name, "login-failed")

    # The sign-in form itself is CSRF-protected (no logging a victim into another account).
    page.locator("input[name=csrf_token]").evaluate("el => el.remove()")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as resp:
        page.get_by_role("button", name="Sign in").click()
    assert resp.value.status == 403
    expect(page.locator("#login-error")).to_contain_text("expired")
    assert not any(c["name"].endswith("hub_session") for c in ctx.cookies())

    page.get_by_label("Email").fill(email.upper())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/runs\?status=failed$"))
    # Sign-in never sends the browser to another site.
    for bad in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        page.goto(f"/login?next={bad}")
        assert urlsplit(page.url).netloc == urlsplit(hub.url).netloc
        assert urlsplit(page.url).path == "/authorizations"


def test_session_cookie_flags_hash_and_sign_out(hub, browser, page, ctx):
    t = hub.tenant("con")
    email = make_user(hub, t, "member")
    login(page, email)
    expect(page).to_have_url(re.compile(r"/authorizations$"))
    (cookie,) = [c for c in ctx.cookies() if c["name"] == "hub_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # the live hub's public URL is plain http
    assert cookie["path"] == "/" and len(cookie["value"]) >= 43
    assert page.evaluate("document.cookie").find("hub_session") == -1

    from sqlalchemy import select

    from hub.accounts.models import User

    with hub.runtime.db.session() as s:
        uid = s.scalar(select(User.id).where(User.email == email))
        rows = s.scalars(select(ConsoleSession).where(ConsoleSession.user_id == uid)).all()
        assert [r.id for r in rows] == [hashlib.sha256(cookie["value"].encode()).hexdigest()]
        assert rows[0].tenant_id == t.id and rows[0].expires_at > rows[0].created_at

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    with hub.runtime.db.session() as s:
        assert s.scalars(select(ConsoleSession).where(ConsoleSession.user_id == uid)).all() == []
    # The old cookie, replayed in another browser, no longer signs anyone in.
    other = browser.new_context(base_url=hub.url)
    try:
        other.add_cookies([{**cookie}])
        p2 = other.new_page()
        p2.goto("/integrations")
        assert urlsplit(p2.url).path == "/login"
    finally:
        other.close()


def test_secure_cookie_when_the_public_url_is_https(hub_runtime):
    """Behind https the cookie is Secure and __Host- prefixed (in-process; no TLS needed)."""
    from hub.app import create_app

    settings = hub_runtime.settings.model_copy(update={"public_url": "https://hub.example"})
    with hub_runtime.db.session() as s:
        t = accounts.create_tenant(s, f"sec-{secrets.token_hex(4)}")
        email = f"o-{secrets.token_hex(3)}@example.test"
        accounts.create_user(s, t.id, email, PASSWORD, role="owner")
    app = create_app(settings=settings, runtime=hub_runtime)
    with TestClient(app, base_url="https://hub.example", follow_redirects=False) as c:
        form = c.get("/login")
        assert "__Host-hub_login=" in form.headers["set-cookie"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        r = c.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/runs"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/runs"
        cookie = next(
            v for v in r.headers.get_list("set-cookie") if v.startswith("__Host-hub_session=")
        )
        flags = {p.strip().lower() for p in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
        assert not any(f.startswith("domain=") for f in flags)
        assert c.get("/runs").status_code == 200
        # Without the login form's cookie-bound token, even a right password is refused.
        c.cookies.clear()
        r = c.post("/login", data={"email": email, "password": PASSWORD, "next": "/runs"})
        assert r.status_code == 403 and "expired" in r.text
        assert "hub_session" not in r.headers.get("set-cookie", "")


# ---------------------------------------------------------------- CSRF and roles


def test_posts_without_a_valid_csrf_token_are_refused(hub, page, backend_name):
    t = hub.tenant("con")
    owner = make_user(hub, t, "owner")
    connect(hub, t, "stripe", stripe_credentials())
    customer = new_customer()
    queue_id = queue_charge(hub, t, customer)
    login(page, owner)
    card = page.locator(f"article#{queue_id}")

    # 1. The form without its token (as a forged form would be).
    card.locator("input[name=csrf_token]").evaluate("el => el.remove()")
    with page.expect_response(lambda r: r.request.method == "POST") as resp:
        card.get_by_role("button", name="Allow Once").click()
    assert resp.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Form refused")
    expect(page.locator("main")).to_contain_text("Nothing was changed")
    shot(page, backend_name, "csrf-refused")
    assert auth_status(hub, queue_id) == "pending"

    # 2. A token of the right shape that this session never issued.
    page.goto("/authorizations")
    card.locator("input[name=csrf_token]").evaluate(
        "el => { el.value = el.value.split('.')[0] + '.' + 'A'.repeat(43); }"
    )
    with page.expect_response(lambda r: r.request.method == "POST") as resp:
        card.get_by_role("button", name="Allow Once").click()
    assert resp.value.status == 403

    # 3. A valid token, but posted from another origin.
    page.goto("/authorizations")
    token = card.locator("input[name=csrf_token]").input_value()
    r = page.request.post(
        f"/authorizations/{queue_id}/decide",
        form={"csrf_token": token, "decision": "allow_once"},
        headers={"Origin": "http://evil.example"},
        max_redirects=0,
    )
    assert r.status == 403

    # 4. Disconnecting without a token changes nothing either.
    r = page.request.post("/integrations/stripe/disconnect", form={}, max_redirects=0)
    assert r.status == 403
    with hub.runtime.db.session() as s:
        from hub.connections.service import connection_for

        assert connection_for(s, t.id, "stripe") is not None
    assert auth_status(hub, queue_id) == "pending"
    assert stripe_requests(hub, customer) == []
    expect(page.locator("#pending-count")).to_have_text("[1 pending]")


def test_a_member_reads_but_cannot_decide_or_change(hub, page, backend_name):
    t = hub.tenant("con")
    member = make_user(hub, t, "member")
    connect(hub, t, "stripe", stripe_credentials())
    customer = new_customer()
    queue_id = queue_charge(hub, t, customer)
    login(page, member)

    card = page.locator(f"article#{queue_id}")
    expect(card.locator(".target")).to_contain_text("750.00 USD")
    expect(page.locator("#read-only")).to_be_visible()
    assert card.get_by_role("button").count() == 0
    assert page.get_by_role("link", name="Audit log").count() == 0
    shot(page, backend_name, "authorizations-member")

    # A hand-made form with this session's own valid token is still refused by role.
    token = page.locator("form[action='/logout'] input[name=csrf_token]").input_value()
    for action, fields in (
        (f"/authorizations/{queue_id}/decide", {"decision": "allow_once"}),
        ("/integrations/stripe/disconnect", {}),
        ("/integrations/twilio/connect", {"cred.auth_token": "x" * 32}),
    ):
        with page.expect_response(lambda r: r.request.method == "POST") as resp:
            page.evaluate(
                """([action, fields, token]) => {
                    const f = document.createElement('form');
                    f.method = 'post'; f.action = action;
                    for (const [k, v] of Object.entries({...fields, csrf_token: token})) {
                        const i = document.createElement('input');
                        i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
                    }
                    document.body.appendChild(f); f.submit();
                }""",
                [action, fields, token],
            )
        assert resp.value.status == 403, action
        expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
        page.goto("/authorizations")
        token = page.locator("form[action='/logout'] input[name=csrf_token]").input_value()
    assert auth_status(hub, queue_id) == "pending"
    assert stripe_requests(hub, customer) == []

    page.goto("/integrations")
    assert page.get_by_role("link", name=re.compile(r"^(Connect|Update credentials)")).count() == 0
    assert page.get_by_role("button", name=re.compile("Disconnect")).count() == 0
    r = page.request.get("/audit", max_redirects=0)
    assert r.status == 403


# ---------------------------------------------------------------- integrations


GREEN, YELLOW, RED, GRAY = (
    "rgb(26, 127, 55)",
    "rgb(212, 167, 44)",
    "rgb(207, 34, 46)",
    "rgb(140, 149, 159)",
)
PLANNED_BG = "rgb(255, 248, 197)"


def _dot_colour(page: Page, slug: str) -> str:
    return page.locator(f"li#{slug} .status .dot").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )


def test_integrations_show_status_colours_usage_and_errors(hub, page, backend_name):
    from hub.connections.service import connection_for, set_health
    from hub.db.base import utcnow

    t = hub.tenant("con")
    admin = make_user(hub, t, "admin")
    connect(hub, t, "stripe", stripe_credentials())
    connect(hub, t, "twilio", twilio_credentials())
    connect(
        hub,
        t,
        "sendgrid",
        {
            "api_key": f"SG.{secrets.token_hex(11)}.{secrets.token_hex(21)}x",
            "from_email": "office@example.test",
        },
    )
    with hub.runtime.db.session() as s:
        stripe = connection_for(s, t.id, "stripe")
        stripe.times_used_by_agent, stripe.last_agent_use_at = 7, utcnow()
        stripe.account_label = "Main Street Windows"
        set_health(
            s,
            connection_for(s, t.id, "twilio"),
            "error",
            error="Twilio refused the credentials (401): the auth token was revoked.",
            kind="auth",
        )
        set_health(
            s,
            connection_for(s, t.id, "sendgrid"),
            "warning",
            error="SendGrid is rate limiting this account; retry after 30 s.",
            kind="rate_limited",
        )
    login(page, admin, path="/login?next=/integrations")
    expect(page.get_by_role("heading", name="Integrations", level=1)).to_be_visible()

    expected = {
        "stripe": ("connected", "Connected", GREEN),
        "sendgrid": ("warning", "Warning", YELLOW),
        "twilio": ("error", "Error", RED),
        "square": ("not-connected", "Not connected", GRAY),
    }
    for slug, (state, label, colour) in expected.items():
        cardl = page.locator(f"li#{slug}")
        expect(cardl).to_have_attribute("data-status", state)
        expect(cardl.locator(".status")).to_have_text(label)
        assert _dot_colour(page, slug) == colour, slug
    planned = page.locator("li#google_gemini .status")
    expect(planned).to_have_text("Planned")
    assert planned.evaluate("el => getComputedStyle(el).backgroundColor") == PLANNED_BG
    expect(page.locator("li#tiktok .status")).to_have_text("Coming soon")
    # Grouped by category, with a heading per group.
    payments = page.locator("section.category", has=page.get_by_role("heading", name="Payments"))
    expect(payments.locator("li#stripe")).to_have_count(1)
    expect(payments.locator("li#square")).to_have_count(1)

    stripe_card = page.locator("li#stripe")
    expect(stripe_card.locator(".usage")).to_contain_text("7 calls, last")
    expect(stripe_card.locator(".account")).to_have_text("Main Street Windows")
    expect(stripe_card.locator(".hint")).to_have_text(re.compile(r"^sk_test_\.\.\.\w{4}$"))
    expect(page.locator("li#twilio .last-error")).to_contain_text("auth token was revoked")
    expect(page.locator("li#sendgrid .last-error")).to_contain_text("rate_limited")
    assert page.locator("li#google_gemini").get_by_role("link", name="Connect").count() == 0
    shot(page, backend_name, "integrations")
    shot(page, backend_name, "integrations-screen", full=False)


def test_connect_form_stores_the_key_and_shows_only_a_hint(hub, page, backend_name):
    t = hub.tenant("con")
    admin = make_user(hub, t, "owner")
    secret = canary("sk_test_")
    seen: list[str] = []

    def look() -> None:
        seen.append(page.content())

    login(page, admin, path="/login?next=/integrations")
    page.get_by_role("link", name="Connect Stripe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connect Stripe")
    key_input = page.get_by_label("Secret or restricted key")
    expect(key_input).to_have_attribute("type", "password")
    expect(page.locator("#f-secret_key-help")).to_contain_text("Developers > API keys")
    shot(page, backend_name, "connect-form")

    # A malformed key: a plain error, and the value is not sent back.
    key_input.fill("sk_nope_" + secret[-12:])
    page.get_by_label("Account label").fill("Shop account")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error")).to_contain_text("does not look like a secret")
    expect(page.get_by_label("Secret or restricted key")).to_have_value("")
    expect(page.get_by_label("Account label")).to_have_value("Shop account")
    assert secret[-12:] not in page.content()
    shot(page, backend_name, "connect-form-error")

    page.get_by_label("Secret or restricted key").fill(secret)
    page.get_by_role("button", name="Save").click()
    # Save & Test ran with the save; api.stripe.com is unreachable from the tests, so it got
    # no verdict and the card warns (the vendor could not be reached).
    expect(page).to_have_url(re.compile(r"/integrations\?saved=stripe&untested=stripe#stripe$"))
    expect(page.locator(".alert.ok")).to_contain_text("Stripe saved")
    expect(page.locator(".alert.ok")).to_contain_text("Save & Test got no verdict")
    card = page.locator("li#stripe")
    expect(card).to_have_attribute("data-status", "warning")
    hint = f"sk_test_...{secret[-4:]}"
    expect(card.locator(".hint")).to_have_text(hint)
    expect(card.locator(".account")).to_have_text("Shop account")
    look()

    # The form again: the stored key is a hint in a placeholder, never a value.
    card.get_by_role("link", name="Update credentials").click()
    expect(page.get_by_label("Secret or restricted key")).to_have_value("")
    expect(page.get_by_label("Secret or restricted key")).to_have_attribute(
        "placeholder", f"Stored: {hint} (leave empty to keep)"
    )
    look()
    page.get_by_role("button", name="Save").click()  # nothing new: the key is kept
    expect(page.locator("li#stripe .hint")).to_have_text(hint)
    look()

    r = httpx.get(f"{hub.url}/api/connections", headers=t.h("admin"))
    (conn,) = r.json()["data"]
    assert conn["connected_via"] == "ui" and conn["credentials"]["secret_key"]["hint"] == hint
    with hub.runtime.db.session() as s:
        from hub.connections.service import connection_for

        c = connection_for(s, t.id, "stripe")
        assert hub.runtime.vault.read(s, t.id, c.credential_id)["secret_key"] == secret

    for path in ("/authorizations", "/runs", "/audit"):
        page.goto(path)
        look()
    shot(page, backend_name, "audit")

    # Disconnect asks first, then destroys the credential.
    page.goto("/integrations")
    page.once("dialog", lambda d: d.accept())
    page.locator("li#stripe").get_by_role("button", name="Disconnect").click()
    expect(page.locator(".alert.ok")).to_contain_text("Stripe disconnected")
    expect(page.locator("li#stripe")).to_have_attribute("data-status", "not-connected")
    look()
    assert httpx.get(f"{hub.url}/api/connections", headers=t.h("admin")).json()["data"] == []
    assert all(secret not in html for html in seen), "a page showed the credential"
    assert len(seen) == 7


def test_audit_log_is_newest_first_filtered_and_paged(hub, page, backend_name):
    from hub.audit.service import query, record

    t = hub.tenant("con")
    ops = make_user(hub, t, "ops")
    with hub.runtime.db.session() as s:
        for i in range(55):
            record(s, t.id, "system:test", "test.filler", target=f"item-{i:02d}")
    connect(hub, t, "stripe", stripe_credentials())
    login(page, ops, path="/login?next=/audit")

    with hub.runtime.db.session() as s:
        newest = [r.id for r in query(s, t.id, limit=50)]
    shown = page.locator("table.audit tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert shown == newest
    assert shown.index(
        page.locator("tr[data-action='console.login']").get_attribute("data-id")
    ) < shown.index(page.locator("tr[data-action='connection.created']").get_attribute("data-id"))

    page.get_by_role("link", name="Older »").click()
    older = page.locator("table.audit tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert older and not set(older) & set(shown)
    with hub.runtime.db.session() as s:
        assert older == [r.id for r in query(s, t.id, limit=50, before_id=shown[-1])]

    page.get_by_label("Action").fill("connection")
    page.get_by_role("button", name="Filter").click()
    actions = page.locator("table.audit tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.action)"
    )
    # Newest first: the Save & Test that ran with the create, then the create.
    assert actions == ["connection.tested", "connection.created"]
    expect(page.locator("table.audit")).to_contain_text("stripe")
    shot(page, backend_name, "audit-filtered")


def test_another_tenants_user_sees_and_changes_nothing(hub, page, backend_name):
    from hub.runs.models import Run

    a, b = hub.tenant("cona"), hub.tenant("conb")
    connect(hub, a, "stripe", stripe_credentials())
    customer = new_customer()
    queue_id = queue_charge(hub, a, customer)
    with hub.runtime.db.session() as s:
        run = Run(
            tenant_id=a.id,
            caller="test",
            tool="send_sms",
            args={"to": "+15550001111", "body": "A's message"},
            args_hash="0" * 64,
            status="succeeded",
            result={"message_id": "SM-a"},
        )
        s.add(run)
        s.flush()
        run_id = run.id
    login(page, make_user(hub, b, "owner"))

    expect(page.locator("#pending-count")).to_have_text("[0 pending]")
    seen = [page.content()]
    for path in ("/runs", "/audit", "/integrations"):
        page.goto(path)
        seen.append(page.content())
    for html in seen:
        for value in (queue_id, run_id, customer, "A's message"):
            assert value not in html
    expect(page.locator("li#stripe")).to_have_attribute("data-status", "not-connected")

    r = page.request.get(f"/runs/{run_id}", max_redirects=0)
    assert r.status == 404 and run_id not in r.text()
    page.goto("/authorizations")
    token = page.locator("form[action='/logout'] input[name=csrf_token]").input_value()
    r = page.request.post(
        f"/authorizations/{queue_id}/decide",
        form={"csrf_token": token, "decision": "allow_once"},
        max_redirects=0,
    )
    assert r.status == 404
    r = page.request.post(
        "/integrations/stripe/disconnect", form={"csrf_token": token}, max_redirects=0
    )
    assert r.status == 303  # B has no Stripe connection: nothing to remove
    assert auth_status(hub, queue_id) == "pending"
    assert stripe_requests(hub, customer) == []
    conns = httpx.get(f"{hub.url}/api/connections", headers=a.h("admin")).json()["data"]
    assert [c["integration"] for c in conns] == ["stripe"]


def test_a_paused_multi_step_run_shows_its_steps_to_admins_only(hub, page, browser, backend_name):
    """send_invoice refused at its last step: the run page lists the five steps, four done
    with their recorded results; a member sees the run without them."""
    from tests.e2e.test_steps import ARGS, sandbox_invoice_id

    t = hub.tenant("stp")
    admin, member = make_user(hub, t, "admin"), make_user(hub, t, "member")
    connect(hub, t, "stripe", stripe_credentials())
    hub.sandbox.fault(
        "stripe", 401, method="POST", path_prefix=f"/v1/invoices/{sandbox_invoice_id()}/send"
    )
    try:
        r = hub.call(t, "send_invoice", ARGS, reasoning=REASONING)
    finally:
        hub.sandbox.clear()
    assert r.status_code == 202 and r.json()["status"] == "paused", r.text
    run_id = r.json()["queue_id"]
    login(page, admin)
    page.goto(f"/runs/{run_id}")
    rows = page.locator("#run-steps tbody tr")
    expect(rows).to_have_count(5)
    for step in ("customer", "invoice", "items", "finalize"):
        expect(page.locator(f'#run-steps tr[data-step="{step}"]')).to_contain_text("done")
    expect(page.locator('#run-steps tr[data-step="send"]')).to_contain_text("not done")
    expect(page.locator('#run-steps tr[data-step="invoice"]')).to_contain_text(sandbox_invoice_id())
    shot(page, backend_name, "run-steps")
    other = browser.new_context(base_url=hub.url)
    try:
        p2 = other.new_page()
        login(p2, member)
        p2.goto(f"/runs/{run_id}")
        expect(p2.locator("#run-status")).to_contain_text("paused")
        expect(p2.locator("#run-steps")).to_have_count(0)
    finally:
        other.close()
