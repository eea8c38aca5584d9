"""Vendor sandbox: Prism mocks of the vendors' own OpenAPI specs behind a recording proxy."""

from hub.sandbox.install import PRISM_VERSION, ensure_prism
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
    "PRISM_VERSION",
    "SPECS_DIR",
    "Fault",
    "RecordedRequest",
    "Sandbox",
    "SandboxError",
    "available_vendors",
    "ensure_prism",
    "vendor_error_body",
]
