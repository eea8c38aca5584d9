"""Typed access to the running hub's parts that the app keeps on ``app.state``."""

from __future__ import annotations

from starlette.requests import Request

from hub.db.engine import Database
from hub.runs.callpath import CallPath
from vault import Vault


def db(request: Request) -> Database:
    """The hub's database."""
    database: Database = request.app.state.db
    return database


def vault(request: Request) -> Vault:
    """The credential vault (unlocked)."""
    v: Vault = request.app.state.vault
    return v


def calls(request: Request) -> CallPath:
    """The call path that runs tools (an approved authorization runs through it)."""
    path: CallPath = request.app.state.calls
    return path
