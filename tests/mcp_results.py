"""pytest plugin: every MCP tool result the suite produces is checked against the outputSchema
the tool advertises, errors and refusals included (as the TypeScript SDK's client does).

It wraps HubMcp.call_tool for the session (a pass-through that looks at the answer, changing
nothing), finds the tool in the caller's listing and validates structuredContent with
jsonschema. Any mismatch fails the session with the tool, the result and the reason.
`check_result` is also used directly by tests.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import mcp_types as types
import pytest
from jsonschema import Draft202012Validator

from hub.mcp.server import HubMcp

FAILURES: list[str] = []
CHECKED: Counter[str] = Counter()


def check_result(output_schema: dict[str, Any] | None, result: types.CallToolResult) -> list[str]:
    """What is wrong with a result for a tool advertising output_schema (empty: nothing)."""
    if output_schema is None:
        return []
    data = result.structured_content
    if data is None:
        # The TypeScript client throws when a tool with an outputSchema answers without
        # structured content (unless it is an error result).
        return [] if result.is_error else ["no structuredContent although outputSchema is set"]
    v = Draft202012Validator(output_schema)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in v.iter_errors(data)
    ]


def _install() -> None:
    original = HubMcp.call_tool
    if getattr(original, "_checked", False):
        return

    async def call_tool(self: HubMcp, ctx: Any, params: types.CallToolRequestParams) -> Any:
        result = await original(self, ctx, params)
        try:
            caller = await self.caller_of(ctx)
        except Exception:  # unauthenticated: the caller has no listing to check against
            return result
        tools = await self._db(lambda s: self.catalog.tools_for(s, caller.tenant_id))
        tool = next((t for t in tools if t.name == params.name), None)
        if tool is not None:
            CHECKED[tool.name] += 1
            for problem in check_result(tool.output_schema, result):
                body = json.dumps(result.structured_content, default=str)[:400]
                FAILURES.append(f"{tool.name}: {problem}\n    result: {body}")
        return result

    call_tool._checked = True  # type: ignore[attr-defined]
    HubMcp.call_tool = call_tool  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    """Wrap the MCP server's call handler before any server is built."""
    _install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when any result broke its tool's outputSchema."""
    if FAILURES:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"{len(FAILURES)} MCP tool result(s) do not match the advertised outputSchema:"]
        lines += FAILURES[:50]
        if tr is not None:
            tr.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many results were checked, per tool."""
    if CHECKED:
        total = sum(CHECKED.values())
        terminalreporter.write_line(
            f"mcp outputSchema check: {total} result(s) of {len(CHECKED)} tool(s) checked, "
            f"{len(FAILURES)} mismatch(es)"
        )
