"""Liveness and readiness probes (readiness: the database answers at the head revision)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hub.db import migrate

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """The database answers and the schema is at the shipped head revision."""
    checks: dict[str, str] = {}
    ok = True
    try:
        current = migrate.current_revision(request.app.state.db.engine)
        head = migrate.head_revision()
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == head else f"at {current}, expected {head}"
        ok = current == head
    except Exception as exc:  # readiness must answer, whatever the failure
        checks["database"] = f"unreachable ({type(exc).__name__})"
        ok = False
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
    )
