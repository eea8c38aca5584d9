"""The console tests' browser fixtures, for the Events page test."""

from tests.web.test_console import backend_name, browser, ctx, hub, page  # noqa: F401
