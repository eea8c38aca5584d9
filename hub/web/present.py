"""Turning records into words for the console: ages, money, call summaries, status colours."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from hub.db.base import utcnow
from hub.runs.scrub import REDACTED

# ISO 4217 currencies whose minor unit is not 1/100.
_ZERO_DECIMAL = {
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX",
    "VND", "VUV", "XAF", "XOF", "XPF",
}  # fmt: skip
_THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}

CATEGORY_LABELS = {
    "communication": "Voice & communication",
    "voice": "Voice & speech",
    "email": "Email",
    "ai": "AI models",
    "payments": "Payments",
    "esignature": "E-signature",
    "social": "Social media",
    "website": "Website",
    "advertising": "Advertising",
    "maps": "Mapping & location",
    "incentives": "Incentives & rewards",
    "calendar": "Calendar & scheduling",
    "crm": "CRM",
    "project_management": "Project management",
    "accounting": "Accounting",
    "storage": "Storage",
    "messaging": "Messaging",
    "custom": "Custom",
    "mcp": "Remote MCP servers",
}


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """'just now', '2 minutes ago', 'in 23 hours'."""
    if when is None:
        return "never"
    now = now or utcnow()
    secs = (now - when).total_seconds()
    future = secs < 0
    secs = abs(secs)
    if secs < 45:
        return "in a moment" if future else "just now"
    # Each unit is used until two of the next one fit (so a day's expiry reads "in 24 hours").
    for limit, size, unit in (
        (90 * 60, 60, "minute"),
        (48 * 3600, 3600, "hour"),
        (60 * 86400, 86400, "day"),
        (548 * 86400, 30 * 86400, "month"),
        (float("inf"), 365 * 86400, "year"),
    ):
        if secs < limit:
            n = max(1, round(secs / size))
            text = f"{n} {unit}{'' if n == 1 else 's'}"
            return f"in {text}" if future else f"{text} ago"
    return "long ago"  # pragma: no cover


def stamp(when: datetime | None) -> str:
    """An absolute UTC time for titles and tables."""
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def money(amount: object, currency: object) -> str:
    """Minor units -> '1,250.00 USD' (zero- and three-decimal currencies respected)."""
    cur = str(currency or "").upper()
    if not isinstance(amount, int) or isinstance(amount, bool):
        return f"{amount} {cur}".strip()
    digits = 0 if cur in _ZERO_DECIMAL else 3 if cur in _THREE_DECIMAL else 2
    value = amount / (10**digits)
    return f"{value:,.{digits}f} {cur}".strip()


def duration(ms: float | None) -> str:
    """'840 ms', '2.3 s'."""
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def short(value: object, limit: int = 80) -> str:
    """A one-line rendering of a value, cut to `limit` characters."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list):
        text = ", ".join(short(v, 40) for v in value[:3]) + (
            f" (+{len(value) - 3} more)" if len(value) > 3 else ""
        )
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    else:
        text = json.dumps(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def steps(text: str) -> list[str]:
    """Numbered instructions ("1. ...") as a list of one-line steps (wrapped lines joined)."""
    out: list[str] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.match(r"^\d+[.)]\s+(.*)$", line)
        if m or not out:
            out.append(m.group(1) if m else line)
        else:
            out[-1] += " " + line
    return out


def pretty_json(value: object) -> str:
    """Indented JSON for <pre> blocks."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def redact(args: dict[str, Any], secret_fields: list[str]) -> dict[str, Any]:
    """Arguments with secret-typed fields replaced (runs store them redacted already)."""
    return {k: (REDACTED if k in secret_fields else v) for k, v in (args or {}).items()}


def _quote(text: object, limit: int = 90) -> str:
    return f"“{short(text, limit)}”"


def _count(items: object, noun: str) -> str:
    n = len(items) if isinstance(items, list) else (1 if items else 0)
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _recipients(a: dict[str, Any]) -> str:
    to = a.get("to")
    people = to if isinstance(to, list) else [to] if to else []
    extra = sum(len(a.get(k) or []) for k in ("cc", "bcc") if isinstance(a.get(k), list))
    head = ", ".join(str(p) for p in people[:2])
    more = len(people) - 2 + extra
    return head + (f" and {more} more" if more > 0 else "")


def summarize(tool: str, args: dict[str, Any], provider: str | None) -> str:
    """A readable sentence of what a call would do, e.g.
    'charge 750.00 USD to customer cus_x via Stripe'."""
    a = args or {}
    via = f" via {provider}" if provider else ""
    amt = money(a.get("amount"), a.get("currency")) if "amount" in a else ""
    if tool == "charge_card":
        return f"charge {amt} to customer {a.get('customer_id', '?')}{via}"
    if tool == "refund_payment":
        what = amt or "the full amount"
        return f"refund {what} of payment {a.get('payment_id', '?')}{via}"
    if tool == "create_payment_link":
        qty = a.get("quantity")
        each = f" x {qty}" if isinstance(qty, int) and qty > 1 else ""
        return f"create a payment link for {amt}{each}{via}"
    if tool == "send_invoice":
        who = a.get("customer_name") or a.get("customer_email") or "a customer"
        return f"send an invoice ({_count(a.get('line_items'), 'line item')}) to {who}{via}"
    if tool == "create_invoice":
        who = a.get("customer_name") or a.get("customer_email") or "a customer"
        return f"create an invoice ({_count(a.get('line_items'), 'line item')}) for {who}{via}"
    if tool == "send_reward":
        who = a.get("recipient_name") or a.get("recipient_email") or "someone"
        kind = str(a.get("reward_type") or "reward").replace("_", " ")
        return f"send a {kind} worth {amt} to {who}{via}"
    if tool == "update_ad_budget":
        budget = money(a.get("daily_budget"), a.get("currency"))
        return (
            f"set the daily budget of {a.get('platform', '?')} campaign "
            f"{a.get('campaign_id', '?')} to {budget}{via}"
        )
    if tool == "post_to_social":
        media = a.get("media_urls") or []
        with_media = f" with {_count(media, 'attachment')}" if media else ""
        return f"post to {a.get('platform', 'social media')}{with_media}: {_quote(a.get('text'))}"
    if tool == "send_sms":
        return f"text {a.get('to', '?')}{via}: {_quote(a.get('body'))}"
    if tool == "send_email":
        return f"email {_recipients(a)}{via}: {_quote(a.get('subject'))}"
    if tool == "send_contract":
        return (
            f"send {_quote(a.get('title'), 60)} for signature to "
            f"{_count(a.get('signers'), 'signer')}{via}"
        )
    if tool == "disconnect_integration":
        return f"disconnect the {a.get('integration', '?')} integration and destroy its credential"
    shown = [f"{k}={short(v, 40)}" for k, v in list(a.items())[:4]]
    more = f" (+{len(a) - 4} more)" if len(a) > 4 else ""
    return f"{tool.replace('_', ' ')}{via}" + (f" with {', '.join(shown)}{more}" if shown else "")


# ---------------------------------------------------------------- statuses


def integration_state(integration_status: str, connection_status: str | None) -> tuple[str, str]:
    """(css state, label) for a catalog card, per seed 000's colours."""
    if connection_status == "connected":
        return "connected", "Connected"
    if connection_status == "warning":
        return "warning", "Warning"
    if connection_status == "error":
        return "error", "Error"
    if connection_status == "pending_setup":
        return "not-connected", "Setup incomplete"
    if integration_status == "planned":
        return "planned", "Planned"
    if integration_status == "coming_soon":
        return "planned", "Coming soon"
    if integration_status == "deprecated":
        return "deprecated", "Deprecated"
    return "not-connected", "Not connected"


RUN_STATE = {
    "succeeded": "ok",
    "failed": "bad",
    "outcome_unknown": "bad",
    "denied": "bad",
    "expired": "muted",
    "pending": "wait",
    "sent": "wait",
    "awaiting_authorization": "wait",
    "paused": "wait",
}

AUTH_STATE = {"pending": "wait", "authorized": "ok", "denied": "bad", "expired": "muted"}
