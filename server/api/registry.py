"""A small route registry: each JSON endpoint declares its OpenAPI operation beside its handler.

    @api.route("GET", "/api/units", summary="List units", tag="directory",
               response=schema.array(schema.ref("Unit")))
    async def list_units(request): ...

``server.api.openapi`` turns the registry into the OpenAPI 3 document, so the document and the routes
cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.errors import ApiError
from server.ids import MAX_ID, parse_int

ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: bool = True
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    status: int = 200
    params: list[dict[str, Any]] = field(default_factory=list)
    errors: tuple[int, ...] = ()
    response_content_type: str = "application/json"
    strict_query: bool = False


OPERATIONS: list[Operation] = []
SCHEMAS: dict[str, dict[str, Any]] = {}


def route(method: str, path: str, *, summary: str, tag: str, auth: bool = True,
          request: dict | None = None, response: dict | None = None, status: int = 200,
          params: list[dict] | None = None, errors: tuple[int, ...] = (),
          response_content_type: str = "application/json", strict_query: bool = False,
          ) -> Callable[[Handler], Handler]:
    """Declare a JSON endpoint. ``strict_query`` refuses (400) query parameters not in ``params``, so a
    misspelt filter is an error rather than a silently unfiltered answer."""
    def deco(fn: Handler) -> Handler:
        OPERATIONS.append(Operation(method.upper(), path, fn, summary, tag, auth, request, response, status,
                                    params or [], errors, response_content_type, strict_query))
        return fn
    return deco


def schema(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Register a named component schema and return a $ref to it."""
    SCHEMAS[name] = body
    return ref(name)


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str] | None = None, **props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def string(**kw: Any) -> dict[str, Any]:
    return {"type": "string", **kw}


def integer(**kw: Any) -> dict[str, Any]:
    return {"type": "integer", **kw}


def query(name: str, kind: dict[str, Any] | None = None, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": kind or string(), "description": description}


def path_param(name: str, kind: dict[str, Any] | None = None) -> dict[str, Any]:
    """A path parameter; by default a database id (1..MAX_ID, server/api/params.py)."""
    return {"name": name, "in": "path", "required": True, "schema": kind or dict(ID)}


def id_query(name: str, description: str = "") -> dict[str, Any]:
    """An id filter in the query string (server/api/params.py query_id)."""
    return query(name, dict(ID), description)


def check_query(op: Operation, query: Mapping[str, str]) -> None:
    """The query as the document states it: an enum value from its list (400), an integer that is one
    (400) and within its minimum and maximum (400), a string of the stated length and pattern (400)."""
    for p in op.params:
        raw = query.get(p["name"]) if p.get("in") == "query" else None
        if raw is None:
            continue
        kind = p["schema"]
        if not kind.get("minLength", 0) <= len(raw) <= kind.get("maxLength", len(raw)) or (
                "pattern" in kind and re.search(kind["pattern"], raw) is None):
            raise ApiError(400, "invalid_filter", f"{p['name']} is not in the expected form")
        if "enum" in kind and raw not in kind["enum"]:
            raise ApiError(400, "invalid_filter", f"{p['name']} must be one of {', '.join(map(str, kind['enum']))}")
        if kind.get("type") == "integer":
            if not (raw.isascii() and raw.removeprefix("-").isdigit()):
                raise ApiError(400, "invalid_filter", f"{p['name']} must be an integer")
            lo, hi = kind.get("minimum", -(2**63)), kind.get("maximum", 2**63 - 1)
            if parse_int(raw, lo, hi) is None:
                raise ApiError(400, "invalid_filter", f"{p['name']} must be between {lo} and {hi}")


def _checked(op: Operation) -> Handler:
    known = {p["name"] for p in op.params if p.get("in") == "query"}

    async def handler(request: web.Request) -> web.StreamResponse:
        if op.strict_query:
            unknown = sorted(set(request.query) - known)
            if unknown:
                raise ApiError(400, "unknown_parameter", f"unknown query parameter: {unknown[0][:40]}")
        check_query(op, request.query)
        return await op.handler(request)

    return handler


def add_routes(app: web.Application) -> None:
    for op in OPERATIONS:
        checked = op.strict_query or any(p.get("in") == "query" for p in op.params)
        app.router.add_route(op.method, op.path, _checked(op) if checked else op.handler)
