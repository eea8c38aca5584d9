"""The scrubber finds secrets in the forms vendors echo them in, and leaves other text be."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import quote, quote_plus

from hub.runs.scrub import REDACTED, Scrubber, secret_forms


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_every_form_of_the_secret_is_redacted_in_nested_values() -> None:
    token = secrets.token_hex(16) + "/+ =?"
    sid = "AC" + secrets.token_hex(16)
    echoes = [
        token,
        b64(f"{sid}:{token}"),
        b64(f"{sid}:{token}").rstrip("="),
        base64.urlsafe_b64encode(f"{sid}:{token}".encode()).decode(),
        b64(token),
        b64(f"api:{token}"),
        b64(f"{token}:"),
        quote(token, safe=""),
        quote_plus(token),
        token.encode().hex(),
        token.encode().hex().upper(),
    ]
    s = Scrubber([token], [sid])
    for echo in echoes:
        out = s.scrub({"error": [f"Authorization: Basic {echo} refused", {"k": echo}]})
        text = str(out)
        assert echo not in text and token not in text, echo
        assert REDACTED in text


def test_two_secrets_paired_as_user_and_password() -> None:
    user, password = secrets.token_hex(8), secrets.token_hex(8)
    out = Scrubber([user, password]).scrub(f"Basic {b64(f'{user}:{password}')}")
    assert out == f"Basic {REDACTED}"


def test_other_text_and_short_values_are_left_alone() -> None:
    s = Scrubber(["abc", secrets.token_hex(16)], ["AC123"])
    text = {"message": "The 'To' number +14155550100 is not valid (abc)", "n": 3}
    assert s.scrub(text) == text
    assert secret_forms([]) == []
    assert Scrubber([]).scrub(text) is text
