"""The OpenAPI 3 document, generated from the route registry."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server import __version__
from server.api.registry import OPERATIONS, SCHEMAS, ref, route
from server.http import MAX_ID

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

_REASONS = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
            409: "Conflict", 413: "Too large", 415: "Unsupported media type", 422: "Unprocessable",
            429: "Too many requests"}


def build() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        if not op.path.startswith("/api"):
            continue
        responses: dict[str, Any] = {}
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            ok["content"] = {op.response_content_type: {"schema": op.response}}
        responses[str(op.status)] = ok
        codes = set(op.errors) | {400}
        # Stated by the registry for every operation: an id path parameter that cannot exist is 404, a
        # query value outside its stated range 422 (server/api/registry.py check_query).
        if any(p.get("in") == "path" and p["schema"].get("type") == "integer" for p in op.params):
            codes |= {404}
        if any(p.get("in") == "query" and p["schema"].get("type") == "integer" for p in op.params):
            codes |= {422}
        if op.auth:
            codes |= {401}
        for code in sorted(codes):
            responses[str(code)] = {
                "description": _REASONS.get(code, "Error"),
                "content": {"application/json": {"schema": ref("Error")}},
            }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.method.lower()}_{op.handler.__name__}",
            "responses": responses,
        }
        if op.params:
            operation["parameters"] = op.params
        if op.request is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.request}}}
        if not op.auth:
            operation["security"] = []
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "Concord API", "version": __version__,
                 "description": "Video mediation and conferencing coordinator. See docs/api.md. Every id is "
                                f"an integer from 1 to {MAX_ID} (32-bit database columns): an id path "
                                "parameter outside that range is 404."},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR, **SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


@route("GET", "/api/openapi.json", summary="This OpenAPI document", tag="meta", auth=False,
       response={"type": "object"})
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(build())
