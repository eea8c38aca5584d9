"""The runs pages: the tenant's recent tool calls, filterable, and one run in full."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from hub.runs import service as runs
from hub.runs import steps as run_steps
from hub.runs.service import RUN_STATUSES
from hub.web import present, state
from hub.web.guard import ConsoleRoute, console
from hub.web.names import Lookups, actor_names
from hub.web.render import render
from hub.web.session import Console

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/runs")
def runs_page(
    request: Request,
    status: str | None = None,
    tool: str | None = None,
    c: Console = Depends(console),
) -> Response:
    """The last hundred runs, optionally of one status or one tool."""
    status = status if status in RUN_STATUSES else None
    tool = (tool or "").strip()[:64] or None
    with state.db(request).session() as s:
        rows = runs.list_runs(s, c.tenant_id, status=status, tool=tool, limit=100)
        look = Lookups(s)
        items = [
            {
                "run": r,
                "state": present.RUN_STATE.get(r.status, "muted"),
                "provider": look.integration(r.provider),
            }
            for r in rows
        ]
        ctx = {
            "active": "runs",
            "items": items,
            "statuses": RUN_STATUSES,
            "status": status,
            "tool": tool or "",
        }
        return render(request, "runs.html", ctx, c=c, s=s)


@router.get("/runs/{run_id}")
def run_page(run_id: str, request: Request, c: Console = Depends(console)) -> Response:
    """One run: what was asked (secrets redacted), who asked, and what came back."""
    with state.db(request).session() as s:
        run = runs.get_run(s, c.tenant_id, run_id)
        look = Lookups(s)
        title, secret_fields = look.tool(run.tool)
        args = present.redact(run.args, secret_fields)
        declared = run_steps.declared_steps(s, run.tool)
        # A multi-step run's recorded steps are working data for operators (as over REST).
        step_rows = None
        if declared and c.can_read_audit:
            done = {x["step"]: x for x in run_steps.step_list(s, run.id)}
            step_rows = [{"step": name, "done": done.get(name)} for name in declared]
        ctx = {
            "active": "runs",
            "run": run,
            "title": title,
            "provider": look.integration(run.provider),
            "summary": present.summarize(run.tool, args, look.integration(run.provider)),
            "args": args,
            "state": present.RUN_STATE.get(run.status, "muted"),
            "caller": actor_names(s, c.tenant_id, {run.caller}).get(run.caller, run.caller),
            "steps": step_rows,
        }
        return render(request, "run.html", ctx, c=c, s=s)
