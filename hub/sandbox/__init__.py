"""Vendor sandbox: Prism mocks of the vendors' own OpenAPI specs and a real CalDAV server
behind a recording proxy."""

from hub.sandbox.caldav import CalDavServer
from hub.sandbox.errors import SandboxError
from hub.sandbox.faults import Fault, vendor_error_body
from hub.sandbox.install import PRISM_VERSION, ensure_prism
from hub.sandbox.records import RecordedRequest
from hub.sandbox.runner import Sandbox
from hub.sandbox.vendors import SPECS_DIR, available_vendors

__all__ = [
    "PRISM_VERSION",
    "SPECS_DIR",
    "CalDavServer",
    "Fault",
    "RecordedRequest",
    "Sandbox",
    "SandboxError",
    "available_vendors",
    "ensure_prism",
    "vendor_error_body",
]
