"""FastAPI dependencies for the database."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from hub.db.engine import Database


def get_database(request: Request) -> Database:
    """The app's Database (set by the app factory)."""
    return request.app.state.db


def get_session(request: Request) -> Iterator[Session]:
    """A request-scoped session: committed on success, rolled back on error."""
    with request.app.state.db.session() as s:
        yield s
