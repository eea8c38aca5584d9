"""FastAPI dependencies for the database."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session


def get_session(request: Request) -> Iterator[Session]:
    """A request-scoped session: committed on success, rolled back on error."""
    with request.app.state.db.session() as s:
        yield s
