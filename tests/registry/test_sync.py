"""Syncing the catalog into the tables, and the registry's lookups."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import hub.schema  # noqa: F401 - every table, for create_all
from hub.core.errors import HubError
from hub.registry import service
from hub.registry.models import Integration, Tool, ToolProvider
from hub.registry.spec import Catalog, ToolSpec
from hub.registry.sync import sync_catalog

# ---------------------------------------------------------------- sync into SQL


def test_sync_is_idempotent(engine: Engine, catalog: Catalog) -> None:
    with Session(engine) as s:
        first = sync_catalog(s, catalog)
        s.commit()
        assert len(first.integrations.inserted) == 35
        assert len(first.tools.inserted) == 23  # 22 agent tools + verify_credentials
        n_bindings = sum(len(t.providers) for t in catalog.tools)
        assert len(first.providers.inserted) == n_bindings
        second = sync_catalog(s, catalog)
        s.commit()
        assert second.changes == 0
        assert second.integrations.unchanged == 35 and second.tools.unchanged == 23
        row = s.get(Integration, "twilio")
        assert row is not None and row.definition["credential_fields"][0]["name"] == "account_sid"
        assert row.source == "seed" and len(row.catalog_hash) == 64


def test_changing_one_tool_updates_only_it(engine: Engine, catalog: Catalog) -> None:
    with Session(engine) as s:
        sync_catalog(s, catalog)
        s.commit()
        before = {t.name: t.updated_at for t in s.scalars(select(Tool))}
        binding = s.scalar(select(ToolProvider).where(ToolProvider.workflow == "twilio/send_sms"))
        assert binding is not None
        binding.live_version = 3  # as deploy would
        s.commit()

        tools = [
            t.model_copy(update={"description": t.description + " Changed."})
            if t.name == "send_sms"
            else t
            for t in catalog.tools
        ]
        report = sync_catalog(s, catalog.model_copy(update={"tools": tools}))
        s.commit()
        assert report.tools.updated == ["send_sms"]
        assert report.changes == 1
        after = {t.name: t.updated_at for t in s.scalars(select(Tool))}
        assert [n for n in after if after[n] != before[n]] == ["send_sms"]
        assert s.get(Tool, "send_sms").description.endswith("Changed.")  # type: ignore[union-attr]
        s.refresh(binding)
        assert binding.live_version == 3  # sync never moves the live binding


def test_removed_integration_and_tool_are_deprecated_not_deleted(
    engine: Engine, catalog: Catalog
) -> None:
    with Session(engine) as s:
        sync_catalog(s, catalog)
        s.commit()
        integrations = [i for i in catalog.integrations if i.slug != "mapbox"]
        tools: list[ToolSpec] = []
        for t in catalog.tools:
            if t.name == "send_slack_message":
                continue
            if t.name == "geocode_address":
                t = t.model_copy(update={"providers": t.providers[:1]})
            tools.append(t)
        slack = next(i for i in integrations if i.slug == "slack")
        integrations = [
            i.model_copy(update={"tools": []}) if i is slack else i for i in integrations
        ]
        smaller = catalog.model_copy(update={"integrations": integrations, "tools": tools})
        report = sync_catalog(s, smaller)
        s.commit()
        assert report.integrations.deprecated == ["mapbox"]
        assert report.tools.deprecated == ["send_slack_message"]
        assert report.providers.removed == ["geocode_address:mapbox"]
        mapbox = s.get(Integration, "mapbox")
        assert mapbox is not None and mapbox.status == "deprecated"
        assert "send_slack_message" not in {t.name for t in service.list_tools(s)}
        assert s.get(Tool, "send_slack_message").status == "deprecated"  # type: ignore[union-attr]
        caps = service.capabilities(s, set())
        names = {a["name"] for d in caps["data"]["domains"] for a in d["actions"]}
        assert "send_slack_message" not in names
        # Back in the files: back to its catalog status.
        again = sync_catalog(s, catalog)
        s.commit()
        assert again.integrations.updated == ["mapbox", "slack"]  # slack lists its tool again
        assert again.tools.updated == ["geocode_address", "send_slack_message"]
        assert again.providers.inserted == ["geocode_address:mapbox"]
        assert s.get(Tool, "send_slack_message").status == "active"  # type: ignore[union-attr]
        assert s.get(Integration, "mapbox").status == "planned"  # type: ignore[union-attr]


def test_lookups_filters_and_errors(engine: Engine, catalog: Catalog) -> None:
    with Session(engine) as s:
        sync_catalog(s, catalog)
        s.commit()
        payments = service.list_integrations(s, category="payments")
        assert {i.slug for i in payments} == {"stripe", "square"}
        available = service.list_integrations(s, status="available")
        assert len(available) == 8
        assert {i.slug for i in service.list_integrations(s, search="SIGNATURE")} >= {
            "dropbox_sign",
            "docusign",
        }
        assert service.list_integrations(s, search="100%_sure") == []
        with pytest.raises(HubError) as exc:
            service.list_integrations(s, category="banking")
        assert exc.value.kind == "invalid_request"
        assert exc.value.details["field"] == "category"
        assert "payments" in exc.value.details["allowed"]
        with pytest.raises(HubError) as exc:
            service.list_integrations(s, status="live")
        assert exc.value.details["field"] == "status"
        with pytest.raises(HubError) as exc:
            service.get_integration(s, "twillio")
        assert exc.value.kind == "not_found" and "'twilio'" in exc.value.message
        with pytest.raises(HubError) as exc:
            service.list_tools(s, domain="nope")
        assert exc.value.details["field"] == "domain"
        assert [t.name for t in service.list_tools(s, domain="voice")] == [
            "synthesize_speech",
            "transcribe_audio",
        ]
        assert service.get_tool(s, "send_sms").permission == "unrestricted"
        providers = service.providers_for(s, "send_email")
        assert [(p.integration_slug, p.is_default) for p in providers] == [
            ("sendgrid", True),
            ("mailgun", False),
        ]
