"""Query parameters a route does not take are refused, not ignored.

A mistyped filter (`?stauts=failed`) that is silently ignored answers with unfiltered rows,
which a caller then takes for the filtered ones. Installed as an app-wide dependency.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from hub.core.errors import HubError


def _query_names(dependant: Dependant) -> set[str]:
    names: set[str] = {str(p.alias) for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


_declared_by_route: dict[tuple[str, frozenset[str]], frozenset[str]] = {}


def _declared(route: APIRoute) -> frozenset[str]:
    # Routes are built once, at start-up: their parameters never change afterwards.
    key = (route.path, frozenset(route.methods or ()))
    if key not in _declared_by_route:
        _declared_by_route[key] = frozenset(_query_names(route.dependant))
    return _declared_by_route[key]


async def known_query_only(request: Request) -> None:
    """Refuse a request carrying a query parameter its route does not declare."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    declared = _declared(route)
    unknown = [k for k in request.query_params if k not in declared]
    if unknown:
        takes = ", ".join(sorted(declared)) or "none"
        raise HubError(
            "invalid_request",
            f"{len(unknown)} query parameter(s) this route does not take; it takes: {takes}.",
            details={"field": "query", "allowed": sorted(declared)},
        )
