"""Integers from paths and query strings: moved to :mod:`server.http` (the shared web helpers); this module
keeps the OpenAPI parameter ``ID`` (server/api/registry.py) and names the helpers for old imports.

Every id column is a 32-bit INTEGER (server/*/models.py), on SQLite and PostgreSQL alike, so an id outside
1..MAX_ID cannot exist: a path id beyond it is simply not found (404), never handed to the database.
"""

from __future__ import annotations

from server.api.registry import ID
from server.http import MAX_ID, parse_id, parse_int, path_id, query_id, query_int

__all__ = ["ID", "MAX_ID", "parse_id", "parse_int", "path_id", "query_id", "query_int"]
