"""SECURITY 15: states are random, single use, expire within 10 minutes, bound to the caller."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from hub.accounts.models import OAuthState
from hub.accounts.oauth_states import STATE_TTL, consume_state, create_state
from hub.core.errors import HubError
from hub.db.base import utcnow


def _new(s, tenant_id: str) -> str:
    return create_state(
        s,
        tenant_id=tenant_id,
        user_id=None,
        actor="token:t",
        integration="google_calendar",
        verifier="v" * 64,
        redirect_uri="http://127.0.0.1:1/oauth/callback",
        connected_via="ui",
    )


def test_state_is_single_use_and_bound(hub_runtime, tenant):
    with hub_runtime.db.session() as s:
        raw = _new(s, tenant.id)
        other = _new(s, tenant.id)
    assert raw != other and len(raw) >= 40
    with hub_runtime.db.session() as s:
        st = consume_state(s, raw)
        assert (st.tenant_id, st.integration_slug, st.code_verifier) == (
            tenant.id,
            "google_calendar",
            "v" * 64,
        )
        # Only the hash is stored.
        assert raw not in (st.state_hash, st.id)
    with hub_runtime.db.session() as s, pytest.raises(HubError, match="already used"):
        consume_state(s, raw)
    assert timedelta(minutes=10) >= STATE_TTL


@pytest.mark.parametrize("raw", [None, "", "never-issued-state-value-xxxxxxxxxxxxxxxx"])
def test_missing_or_unknown_state_is_refused(hub_runtime, raw):
    with hub_runtime.db.session() as s, pytest.raises(HubError) as e:
        consume_state(s, raw)
    assert e.value.kind == "invalid_request"
    assert "start the connection again" in e.value.message.lower()


def test_expired_state_is_refused(hub_runtime, tenant):
    with hub_runtime.db.session() as s:
        raw = _new(s, tenant.id)
        s.execute(
            update(OAuthState)
            .where(OAuthState.tenant_id == tenant.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with hub_runtime.db.session() as s, pytest.raises(HubError, match="expired"):
        consume_state(s, raw)
