"""Fixtures for the registry's tests: the shipped catalog and an empty SQLite schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

import hub.schema  # noqa: F401 - every table, for create_all
from hub.core.settings import repo_path
from hub.db.base import Base
from hub.registry.catalog import load_catalog
from hub.registry.spec import (
    Catalog,
)

SEED = repo_path("registry_seed")

EXPECTED_INTEGRATIONS = sorted(
    [
        "twilio", "elevenlabs", "deepgram", "openai_whisper", "sendgrid", "mailgun",
        "anthropic", "google_gemini", "higgsfield", "stripe", "square", "dropbox_sign",
        "docusign", "meta", "youtube", "google_business_profile", "tiktok",
        "contractor_website", "meta_ads", "google_ads", "google_maps", "mapbox",
        "marketing_boost", "gift_card_vendor", "google_calendar", "apple_calendar",
        "outlook_calendar", "hubspot", "gohighlevel", "notion", "monday", "slack",
        "quickbooks", "xero", "google_drive",
    ]
)  # fmt: skip
# The hub's own tools (`internal: true`): in the catalog, never offered to agents.
INTERNAL_TOOLS = ["verify_credentials"]
EXPECTED_TOOLS = sorted(
    [
        "send_sms", "send_email", "charge_card", "refund_payment", "create_payment_link",
        "post_to_social", "send_contract", "geocode_address", "upload_video",
        "create_calendar_event", "list_calendar_events", "synthesize_speech",
        "transcribe_audio", "send_slack_message", "create_crm_contact", "create_notion_page",
        "create_monday_item", "create_invoice", "send_reward", "upload_file", "send_invoice",
        "update_ad_budget",
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The shipped catalog, loaded and validated."""
    return load_catalog(SEED)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty SQLite database with every table."""
    eng = create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()
