"""The OpenAPI document as the routes really behave: the hub's error shape on every route,
bearer auth declared, the two hand-served routes described.

FastAPI documents its own 422 body ({"detail": [...]}), which the hub never sends; every
error here is {"error": {"kind", "message", ...}}, so each operation documents that shape for
422 and as its default response (any other refusal: 401, 403, 404, 409, 413, 429...).
The fuzzing test (tests/e2e/test_fuzz.py) holds the document and the routes to each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["kind", "message"],
            "properties": {
                "kind": {"type": "string", "description": "Machine-readable reason."},
                "message": {"type": "string", "description": "What was wrong, what to do."},
                "field": {"type": "string", "description": "The input at fault, if one is."},
                "problems": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
            "additionalProperties": True,
        }
    },
    "additionalProperties": True,
}

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ERROR_RESPONSE = {
    "description": "Refused; `error.kind` says why and `error.message` what to do.",
    "content": {"application/json": {"schema": _ERROR_REF}},
}


def _patch(doc: dict[str, Any]) -> dict[str, Any]:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    doc["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "A hub token (hub_...)."}
    }
    for path, item in doc.get("paths", {}).items():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            if "422" in responses:
                responses["422"] = {**_ERROR_RESPONSE, "description": "Invalid input."}
            responses["default"] = _ERROR_RESPONSE
            if path.startswith("/api/"):
                op["security"] = [{"bearer": []}]
    return doc


def install_openapi(app: FastAPI) -> None:
    """Make app.openapi() return the corrected document (built once)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _patch(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
