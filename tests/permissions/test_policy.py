"""Policy rules as data: what raises a call to requires_authorization, and how narrowly an
Allow Always lowers it again. Pure: the shipped policies.yaml, no database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.core.errors import HubError
from hub.core.settings import repo_path
from hub.permissions.policy import Evaluation, PolicyContext, Raise, load_policy, parse_policy

POLICY = load_policy(repo_path("registry_seed") / "policies.yaml")
CHARGE = {"amount": 80000, "currency": "USD", "customer_id": "cus_1", "payment_method_id": "pm_1"}


def ctx(**settings) -> PolicyContext:
    return PolicyContext(tenant_settings={"policy": settings} if settings else {})


def test_shipped_policy_loads_with_every_rule():
    ids = [r.id for r in POLICY.spec.rules]
    assert ids == ["amount_over_threshold", "bulk_items", "settled_refund", "delete_with_history"]
    assert POLICY.ttl == timedelta(hours=24)
    assert POLICY.spec.overrides.lower_to == "soft_limit"


def test_charge_over_the_default_threshold_needs_a_human():
    ev = POLICY.evaluate("charge_card", "soft_limit", CHARGE, ctx())
    assert ev.level == "requires_authorization" and ev.rule_ids == ("amount_over_threshold",)
    assert "80000" in ev.reason and "50000" in ev.reason
    at_limit = POLICY.evaluate("charge_card", "soft_limit", {**CHARGE, "amount": 50000}, ctx())
    assert at_limit.level == "soft_limit" and not at_limit.raises


def test_charge_threshold_is_per_tenant():
    assert (
        POLICY.evaluate(
            "charge_card", "soft_limit", CHARGE, ctx(charge_card_max_amount=100000)
        ).level
        == "soft_limit"
    )
    small = POLICY.evaluate(
        "charge_card", "soft_limit", {**CHARGE, "amount": 2000}, ctx(charge_card_max_amount=1000)
    )
    assert small.level == "requires_authorization"
    # A malformed tenant value falls back to the default rather than disabling the rule.
    assert POLICY.evaluate(
        "charge_card", "soft_limit", CHARGE, ctx(charge_card_max_amount="lots")
    ).raises


def test_more_than_five_items_is_bulk():
    six = [f"a{i}@example.com" for i in range(6)]
    ev = POLICY.evaluate(
        "send_email", "unrestricted", {"to": six, "subject": "s", "text": "t"}, ctx()
    )
    assert ev.rule_ids == ("bulk_items",) and "6 items" in ev.reason
    # Recipients are counted together across to, cc and bcc.
    split = {"to": six[:3], "cc": six[3:5], "bcc": six[5:], "subject": "s", "text": "t"}
    assert POLICY.evaluate("send_email", "unrestricted", split, ctx()).rule_ids == ("bulk_items",)
    five = {"to": six[:5], "subject": "s", "text": "t"}
    assert POLICY.evaluate("send_email", "unrestricted", five, ctx()).level == "unrestricted"
    lines = [{"description": "x", "quantity": 1, "unit_amount": 1}] * 6
    assert POLICY.evaluate("create_invoice", "soft_limit", {"line_items": lines}, ctx()).raises
    # Attachments and labels are not items acted on.
    media = {"to": "+15551234567", "body": "hi", "media_urls": ["https://x/1"] * 8}
    assert POLICY.evaluate("send_sms", "unrestricted", media, ctx()).level == "unrestricted"


def test_refund_of_a_settled_or_unknown_charge_needs_a_human():
    seen: list[tuple[str, timedelta]] = []

    def recent(pid: str, window: timedelta) -> bool:
        seen.append((pid, window))
        return pid == "pi_today"

    c = PolicyContext(charged_recently=recent)
    assert (
        POLICY.evaluate("refund_payment", "soft_limit", {"payment_id": "pi_today"}, c).level
        == "soft_limit"
    )
    ev = POLICY.evaluate("refund_payment", "soft_limit", {"payment_id": "pi_old"}, c)
    assert ev.rule_ids == ("settled_refund",) and "pi_old" in ev.reason
    assert seen[0] == ("pi_today", timedelta(hours=24))
    c2 = PolicyContext(
        tenant_settings={"policy": {"refund_settled_after_hours": 72}}, charged_recently=recent
    )
    POLICY.evaluate("refund_payment", "soft_limit", {"payment_id": "pi_x"}, c2)
    assert seen[-1] == ("pi_x", timedelta(hours=72))


def test_rules_only_raise_never_lower():
    ev = POLICY.evaluate(
        "post_to_social", "requires_authorization", {"platform": "facebook", "text": "hi"}, ctx()
    )
    assert ev.level == "requires_authorization" and ev.rule_ids == ("tool_level",)
    # An unknown level from a custom row is treated as the strictest.
    assert POLICY.evaluate("x", "whatever", {}, ctx()).level == "requires_authorization"


def test_deleting_a_used_connection_is_history():
    c = PolicyContext(
        history=lambda tool, args: ("twilio", 3) if args["integration"] == "twilio" else None
    )
    ev = POLICY.evaluate("disconnect_integration", "soft_limit", {"integration": "twilio"}, c)
    assert ev.rule_ids == ("delete_with_history",) and "3 tool call" in ev.reason
    assert (
        POLICY.evaluate("disconnect_integration", "soft_limit", {"integration": "slack"}, c).level
        == "soft_limit"
    )


# ---------------------------------------------------------------- override narrowness


def terms_for(tool: str, args: dict, base: str = "soft_limit", provider: str = "stripe", c=None):
    ev = POLICY.evaluate(tool, base, args, c or ctx())
    return POLICY.override_terms(tool, provider, args, ev)


def covers(terms, tool, args, base="soft_limit", provider="stripe", c=None) -> bool:
    ev = POLICY.evaluate(tool, base, args, c or ctx())
    return POLICY.covers(terms, tool, provider, args, ev)


def test_allow_always_on_a_charge_covers_only_smaller_same_currency_same_provider():
    t = terms_for("charge_card", CHARGE)
    assert t["at_most"] == {"amount": 80000} and t["same"] == {"currency": "USD"}
    assert t["provider"] == "stripe" and t["rules"] == ["amount_over_threshold"]
    assert covers(t, "charge_card", CHARGE)
    assert covers(t, "charge_card", {**CHARGE, "amount": 60000, "customer_id": "cus_other"})
    assert not covers(t, "charge_card", {**CHARGE, "amount": 80001})
    assert not covers(t, "charge_card", {**CHARGE, "currency": "EUR"})
    assert not covers(t, "charge_card", CHARGE, provider="square")


def test_lowering_keeps_reasoning_for_money():
    # A charge override lowers to the tool's own level (soft_limit: reasoning still needed);
    # a tool that is requires_authorization itself goes no lower than `lower_to`.
    assert POLICY.lowered("soft_limit") == "soft_limit"
    assert POLICY.lowered("requires_authorization") == "soft_limit"
    assert POLICY.lowered("unrestricted") == "unrestricted"


def test_unbounded_money_cannot_be_allowed_always():
    with pytest.raises(HubError) as e:
        terms_for("refund_payment", {"payment_id": "pi_old"})
    assert e.value.kind == "invalid_request" and "Allow Once" in e.value.message
    t = terms_for("refund_payment", {"payment_id": "pi_old", "amount": 500, "currency": "USD"})
    assert covers(t, "refund_payment", {"payment_id": "pi_other", "amount": 400, "currency": "USD"})
    # A full refund (no amount) is not "at most 500".
    assert not covers(t, "refund_payment", {"payment_id": "pi_other"})


def test_bulk_override_covers_up_to_the_approved_count_and_not_other_rules():
    eight = [f"a{i}@example.com" for i in range(8)]
    args = {"to": eight, "subject": "s", "text": "t"}
    t = terms_for("send_email", args, base="unrestricted", provider="sendgrid")
    assert t["max_items"] == 8 and t["rules"] == ["bulk_items"]
    assert covers(
        t, "send_email", {**args, "to": eight[:7]}, base="unrestricted", provider="sendgrid"
    )
    nine = {**args, "to": [*eight, "z@example.com"]}
    assert not covers(t, "send_email", nine, base="unrestricted", provider="sendgrid")
    # An override covers only the rules it was granted for: amount terms never cover bulk.
    charge_terms = terms_for("charge_card", CHARGE)
    both = Evaluation("soft_limit", (Raise("amount_over_threshold", ""), Raise("bulk_items", "")))
    assert not POLICY.covers(charge_terms, "charge_card", "stripe", CHARGE, both)
    assert not covers(t, "send_email", args, base="unrestricted", provider="mailgun")


def test_tool_level_override_binds_the_same_fields():
    post = {"platform": "facebook", "text": "New patio done!"}
    t = terms_for("post_to_social", post, base="requires_authorization", provider="meta")
    assert t["same"] == {"platform": "facebook"} and t["rules"] == ["tool_level"]
    assert covers(
        t,
        "post_to_social",
        {**post, "text": "Another"},
        base="requires_authorization",
        provider="meta",
    )
    assert not covers(
        t,
        "post_to_social",
        {**post, "platform": "instagram"},
        base="requires_authorization",
        provider="meta",
    )
    budget = {"platform": "meta", "campaign_id": "123", "daily_budget": 5000, "currency": "USD"}
    tb = terms_for("update_ad_budget", budget, base="requires_authorization", provider="meta_ads")
    ok = {**budget, "daily_budget": 4000}
    assert covers(tb, "update_ad_budget", ok, base="requires_authorization", provider="meta_ads")
    other = {**budget, "campaign_id": "999"}
    assert not covers(
        tb, "update_ad_budget", other, base="requires_authorization", provider="meta_ads"
    )


def test_policy_file_problems_name_the_field():
    with pytest.raises(HubError) as e:
        parse_policy(
            {
                "version": 1,
                "rules": [{"id": "x", "kind": "max_items", "max_items": 0, "reason": "r"}],
            },
            "p.yaml",
        )
    assert "p.yaml" in e.value.message and "max_items" in e.value.message
    with pytest.raises(HubError) as e:
        parse_policy(
            {"version": 1, "rules": [{"id": "x", "kind": "nope", "reason": "r"}]}, "p.yaml"
        )
    assert "p.yaml" in e.value.message
    dup = {"id": "a", "kind": "max_items", "max_items": 5, "reason": "r"}
    with pytest.raises(HubError) as e:
        parse_policy({"version": 1, "rules": [dup, dup]}, "p.yaml")
    assert "unique" in e.value.message
