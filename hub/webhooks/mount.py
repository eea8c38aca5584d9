"""Putting the webhooks domain into an app: the door's route, the REST routes, the worker."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.core.guard import Limits
from hub.core.lanes import LanedApp
from hub.core.settings import Settings
from hub.db.engine import Database
from hub.runs.callpath import CallPath
from hub.webhooks import service
from hub.webhooks.ingest import Door
from hub.webhooks.lane import PREFIX, webhook_lane
from hub.webhooks.routes import router
from hub.webhooks.worker import Deliverer
from vault import Vault


class Webhooks:
    """The door and the delivery worker of one app."""

    def __init__(self, settings: Settings, db: Database, vault: Vault, calls: CallPath) -> None:
        self.door = Door(db=db, vault=vault, base_url=settings.base_url)
        self.deliverer = Deliverer(db, vault, calls, self.door.refusals)
        self.door.wake = self.deliverer.wake
        self.base_url = settings.base_url
        self.limits = Limits.from_settings(settings)

    def url_for(self, s: Session, tenant_id: str, connection_id: str) -> str | None:
        """A connection's webhook URL, for its REST representation."""
        return service.webhook_url_for(s, self.base_url, tenant_id, connection_id)

    def install(self, app: LanedApp) -> None:
        """Register the REST routes, and the door's lane ahead of the app's stack."""
        app.state.webhooks = self
        app.state.webhook_door = self.door
        app.state.webhook_url_for = self.url_for
        app.include_router(router)
        app.add_lane(PREFIX, webhook_lane(self.limits))

    async def start(self) -> None:
        """Start delivering from the store (what a killed hub left is picked up now)."""
        self.deliverer.start()

    async def stop(self) -> None:
        """Stop the worker; counted refusals are written."""
        await self.deliverer.stop()
