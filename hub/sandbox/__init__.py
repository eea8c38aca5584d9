"""Vendor sandbox: Prism mocks of the vendors' own OpenAPI specs behind a recording proxy."""

from hub.sandbox.runner import (
    SPECS_DIR,
    Fault,
    RecordedRequest,
    Sandbox,
    SandboxError,
    available_vendors,
    vendor_error_body,
)

__all__ = [
    "SPECS_DIR",
    "Fault",
    "RecordedRequest",
    "Sandbox",
    "SandboxError",
    "available_vendors",
    "vendor_error_body",
]
