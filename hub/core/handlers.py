"""Exception handlers: every error leaves as {"error": {"kind", "message", ...}}."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.core.errors import HubError

log = logging.getLogger("hub.errors")
M = TypeVar("M", bound=BaseModel)

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
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def validation_body(exc: RequestValidationError) -> dict[str, Any]:
    """Turn pydantic errors into the hub's shape, without echoing submitted values."""
    problems = [
        {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return {
        "error": {
            "kind": "invalid_request",
            "message": f"{first['field']}: {first['message']}{more}",
            "field": first["field"],
            "problems": problems,
        }
    }


async def parse_body(request: Request, model: type[M]) -> M:
    """A JSON body as `model`, for routes that skip FastAPI's parsing; errors as FastAPI's."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_input=False)]
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
            message = f"No route {request.method} {request.url.path}. See /docs for the API."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}. See /docs."
        return JSONResponse(
            {"error": {"kind": kind, "message": message}},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
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
