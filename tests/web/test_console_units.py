"""The console's pure helpers: money and age wording, call summaries, redirect targets after
sign-in, the sign-in throttle, and CSRF tokens (the browser tests in test_console.py cover
the pages)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.core import caches
from hub.db.base import utcnow
from hub.web import csrf
from hub.web.login import safe_next, throttle
from hub.web.present import ago, integration_state, money, redact, steps, summarize


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (75000, "USD", "750.00 USD"),
        (123456789, "eur", "1,234,567.89 EUR"),
        (5000, "JPY", "5,000 JPY"),
        (1500, "KWD", "1.500 KWD"),
        (1, "USD", "0.01 USD"),
        ("12", "USD", "12 USD"),
    ],
)
def test_money_respects_minor_units(amount, currency, text):
    assert money(amount, currency) == text


def test_ages_read_naturally_both_ways():
    now = utcnow()
    cases = {
        timedelta(seconds=5): ("just now", "in a moment"),
        timedelta(minutes=2): ("2 minutes ago", "in 2 minutes"),
        timedelta(minutes=1): ("1 minute ago", "in 1 minute"),
        timedelta(hours=24): ("24 hours ago", "in 24 hours"),
        timedelta(days=3): ("3 days ago", "in 3 days"),
        timedelta(days=90): ("3 months ago", "in 3 months"),
    }
    for delta, (past, future) in cases.items():
        assert ago(now - delta, now) == past
        assert ago(now + delta, now) == future
    assert ago(None) == "never"


def test_summaries_name_what_the_call_would_do():
    charge = {"amount": 75000, "currency": "USD", "customer_id": "cus_x", "payment_method_id": "pm"}
    assert summarize("charge_card", charge, "Stripe") == (
        "charge 750.00 USD to customer cus_x via Stripe"
    )
    assert summarize("refund_payment", {"payment_id": "pi_1"}, "Stripe") == (
        "refund the full amount of payment pi_1 via Stripe"
    )
    assert summarize("send_sms", {"to": "+15551234567", "body": "Hi"}, "Twilio") == (
        "text +15551234567 via Twilio: “Hi”"
    )
    email = {"to": ["a@x.test", "b@x.test", "c@x.test"], "cc": ["d@x.test"], "subject": "Quote"}
    assert summarize("send_email", email, None) == "email a@x.test, b@x.test and 2 more: “Quote”"
    assert summarize("disconnect_integration", {"integration": "twilio"}, None) == (
        "disconnect the twilio integration and destroy its credential"
    )
    long = summarize("post_to_social", {"platform": "facebook", "text": "x" * 500}, None)
    assert long.startswith("post to facebook: “") and len(long) < 130
    assert summarize("mystery_tool", {"a": 1, "b": "two"}, "Acme") == (
        "mystery tool via Acme with a=1, b=two"
    )


def test_secret_arguments_are_redacted():
    assert redact({"api_key": "sk_live_x", "to": "+1"}, ["api_key"]) == {
        "api_key": "[redacted]",
        "to": "+1",
    }


def test_integration_states_follow_the_seed_colours():
    assert integration_state("available", "connected") == ("connected", "Connected")
    assert integration_state("available", "warning") == ("warning", "Warning")
    assert integration_state("available", "error") == ("error", "Error")
    assert integration_state("available", None) == ("not-connected", "Not connected")
    assert integration_state("beta", None) == ("not-connected", "Not connected")
    assert integration_state("planned", None) == ("planned", "Planned")
    assert integration_state("coming_soon", None) == ("planned", "Coming soon")
    assert integration_state("deprecated", None) == ("deprecated", "Deprecated")


def test_setup_steps_join_wrapped_lines():
    text = "1. Open the dashboard\n   and copy the key.\n2. Paste it here.\n"
    assert steps(text) == ["Open the dashboard and copy the key.", "Paste it here."]
    assert steps("Just one paragraph\nwrapped.") == ["Just one paragraph wrapped."]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/runs?status=failed", "/runs?status=failed"),
        ("/integrations#stripe", "/integrations#stripe"),
        ("https://evil.example/", "/authorizations"),
        ("//evil.example/x", "/authorizations"),
        ("/\\evil.example", "/authorizations"),
        ("/runs\r\nSet-Cookie: x=1", "/authorizations"),
        ("/login", "/authorizations"),
        ("runs", "/authorizations"),
        (None, "/authorizations"),
        ("/" + "a" * 600, "/authorizations"),
    ],
)
def test_sign_in_returns_only_to_local_pages(value, expected):
    assert safe_next(value) == expected


def test_the_sign_in_throttle_blocks_an_address_and_the_cache_reset_empties_it():
    for _ in range(throttle.LIMIT):
        assert not throttle.blocked("198.51.100.7")
        throttle.fail("198.51.100.7")
    assert throttle.blocked("198.51.100.7")
    assert not throttle.blocked("198.51.100.8")  # per address
    caches.clear_all()  # what the tests' per-test reset calls
    assert not throttle.blocked("198.51.100.7")


def test_csrf_tokens_are_bound_to_their_secret():
    secret, other = csrf.new_secret(), csrf.new_secret()
    token = csrf.form_token(secret)
    assert csrf.token_ok(secret, token)
    assert csrf.form_token(secret) != token  # a fresh nonce per form
    assert not csrf.token_ok(other, token)
    nonce, mac = token.split(".")
    assert not csrf.token_ok(secret, f"{nonce}x.{mac}")
    assert not csrf.token_ok(secret, f"{nonce}.{mac[:-1]}A" if mac[-1] != "A" else f"{nonce}.B")
    for bad in (None, "", ".", "abc", f"{nonce}.", 42, token + ".x", "a" * 300):
        assert not csrf.token_ok(secret, bad)
    assert not csrf.token_ok(None, token) and not csrf.token_ok("", token)
