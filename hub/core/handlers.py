"""Exception handlers: every error leaves as {"error": {"kind", "message", ...}}."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.core.errors import HubError

log = logging.getLogger("hub.errors")
M = TypeVar("M", bound=BaseModel)
# A path segment safe to name back: a field name as our models spell them.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

_HTTP_KINDS = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [
        str(p) if isinstance(p, int) or _NAME.fullmatch(str(p)) else "*"
        for p in loc
        if p not in ("body", "query", "path", "header")
    ]
    return ".".join(parts) or str(loc[0] if loc else "body")


def _problem(e: Mapping[str, Any]) -> dict[str, Any]:
    """One pydantic error as {field, message}, without the submitted value or unknown keys."""
    loc = tuple(e.get("loc", ()))
    if e.get("type") == "extra_forbidden":
        # The key itself is the caller's text: name where it was, not what it was.
        where = _field(loc[:-1]) if len(loc) > 1 else "body"
        return {"field": where, "message": "has a field this request does not take (see /docs)"}
    message = str(e.get("msg", "invalid"))
    given = e.get("input")
    if isinstance(given, str) and len(given) >= 3 and given in message:
        message = f"is not valid here ({e.get('type', 'invalid')})"
    out: dict[str, Any] = {"field": _field(loc), "message": message}
    expected = (e.get("ctx") or {}).get("expected")
    if e.get("type") in ("literal_error", "enum") and isinstance(expected, str):
        out["allowed"] = re.findall(r"'([^']*)'", expected)
    return out


def validation_body(exc: RequestValidationError) -> dict[str, Any]:
    """Turn pydantic errors into the hub's shape, without echoing submitted values."""
    problems = [_problem(e) for e in exc.errors()[:20]]
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    body: dict[str, Any] = {
        "kind": "invalid_request",
        "message": f"{first['field']}: {first['message']}{more}",
        "field": first["field"],
        "problems": problems,
    }
    if "allowed" in first:
        body["allowed"] = first["allowed"]
    return {"error": body}


async def parse_body(request: Request, model: type[M]) -> M:
    """A JSON body as `model`, for routes that skip FastAPI's parsing; errors as FastAPI's."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None


def install_handlers(app: FastAPI) -> None:
    """Register the hub's error handlers on an app."""

    @app.exception_handler(HubError)
    async def _hub_error(_: Request, exc: HubError) -> JSONResponse:
        headers = {}
        if exc.kind == "unauthenticated":
            headers["WWW-Authenticate"] = 'Bearer realm="hub"'
        if "retry_after_s" in exc.details:
            headers["Retry-After"] = str(int(exc.details["retry_after_s"]))
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _HTTP_KINDS.get(exc.status_code, "invalid_request")
        message = str(exc.detail)
        if exc.status_code == 404:
            message = "No such route. See /docs for the API."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on this route. See /docs."
        return JSONResponse(
            {"error": {"kind": kind, "message": message}},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        # Two requests changed the same row at once (a PATCH racing a DELETE): the loser's
        # change was not made.
        return JSONResponse(
            {
                "error": {
                    "kind": "conflict",
                    "message": "The record changed or was removed by another request at the "
                    "same time; nothing was changed. Read it again and retry.",
                }
            },
            status_code=409,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(
            {
                "error": {
                    "kind": "conflict",
                    "message": "That conflicts with a record another request made at the same "
                    "time; nothing was changed. Read the current state and retry.",
                }
            },
            status_code=409,
        )

    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL restarting or unreachable (SQLite: locked past its timeout). Never a 500
        # with a stack trace: the caller learns it is temporary and what is safe to do.
        log.warning("database unavailable", extra={"exc_type": type(exc).__name__})
        return JSONResponse(
            {
                "error": {
                    "kind": "database_unavailable",
                    "message": "The hub's database is not answering right now (it may be "
                    "restarting); retry in a few seconds. A tool call retried with the same "
                    "idempotency key is never run twice.",
                }
            },
            status_code=503,
            headers={"Retry-After": "2"},
        )

    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(InterfaceError, _database_down)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value (a NUL character, a number out of range): the input's
        # fault, not the hub's. The value itself is not quoted.
        return JSONResponse(
            {
                "error": {
                    "kind": "invalid_request",
                    "message": "A value in the request cannot be stored (a NUL character or a "
                    "number out of range); change it and send again.",
                }
            },
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # The exception text may quote data; log only its type (the traceback has no values).
        log.error("unhandled error", extra={"exc_type": type(exc).__name__}, exc_info=False)
        return JSONResponse(
            {
                "error": {
                    "kind": "internal",
                    "message": "The hub hit an unexpected error; it has been "
                    "logged with the request id.",
                }
            },
            status_code=500,
        )
