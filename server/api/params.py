"""Integers from paths and query strings, parsed in one place for every handler (API and pages).

Every id column is a 32-bit INTEGER (server/*/models.py), on SQLite and PostgreSQL alike, so an id outside
1..MAX_ID cannot exist: a path id beyond it is simply not found (404), never handed to the database
(where it would overflow: a 500). Only ASCII digits count: ``"²".isdigit()`` is true, ``int("²")`` fails.
The OpenAPI document states the same range (``ID`` below, used by server/api/registry.py).
"""

from __future__ import annotations

from aiohttp import web

from server.api.registry import ID
from server.errors import ApiError, bad_request
from server.ids import MAX_ID, parse_id, parse_int

__all__ = ["ID", "MAX_ID", "parse_id", "parse_int", "path_id", "query_id", "query_int"]

def path_id(request: web.Request, name: str = "id", message: str = "not found") -> int:
    """The id in path segment ``name``; 404 for anything that cannot be an id."""
    v = parse_id(request.match_info.get(name))
    if v is None:
        raise ApiError(404, "not_found", message)
    return v


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter in lo..hi; absent or empty gives ``default``; 400 when it is not an
    integer or out of range."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.removeprefix("-").isdigit()):
        raise bad_request(f"{name} must be an integer", "invalid_query")
    v = parse_int(raw, lo, hi)
    if v is None:
        raise bad_request(f"{name} must be between {lo} and {hi}", "invalid_query")
    return v


def query_id(request: web.Request, name: str) -> int | None:
    """An id filter in the query string: None when absent; 400 when not an integer, 422 when out of range."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.removeprefix("-").isdigit()):
        raise bad_request(f"{name} must be an integer", "invalid_query")
    v = parse_id(raw)
    if v is None:
        raise ApiError(422, "invalid_query", f"{name} must be between 1 and {MAX_ID}")
    return v
