"""Web helpers shared by every domain's HTTP code (JSON API and pages), in one place:

- mapping domain errors (:mod:`server.failures`) to HTTP statuses and the JSON error shape;
- path and query integers (ids are 32-bit: an id outside 1..MAX_ID is simply not found);
- the client's address and origin (trusted-proxy logic in :mod:`server.security.clientip`);
- CSRF for pages (double-submit token bound to a per-browser cookie);
- a request's business "now", from the app's clock (the case context is server.cases.http.context).

Only the web layer imports this package (it imports aiohttp).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from server.errors import STATUS, ApiError, bad_request
from server.failures import DomainError, Kind
from server.ids import MAX_ID, parse_id, parse_int
from server.security import csrf
from server.security.clientip import client_ip, is_https, origin
from server.services import services

__all__ = [
    "CSRF_SEED", "MAX_ID", "STATUS", "api_error", "check_csrf", "client_ip", "csrf_token", "http_status",
    "is_https", "kind_of", "now_of", "origin", "parse_id", "parse_int", "path_id", "query_id", "query_int", "status_of",
]

_KINDS = {status: kind for kind, status in STATUS.items()}


def http_status(e: DomainError | Kind) -> int:
    """The HTTP status for a domain error (or its kind)."""
    return STATUS[e.kind if isinstance(e, DomainError) else e]


def api_error(e: DomainError) -> ApiError:
    """The JSON API error for a domain error: same code, message and extra fields."""
    return ApiError(http_status(e), e.code, e.message, **e.extra)


def status_of(e: DomainError | ApiError) -> int:
    """The HTTP status of a domain error or of an API error."""
    return e.status if isinstance(e, ApiError) else http_status(e)


def kind_of(status: int) -> Kind | None:
    """The kind of refusal an HTTP status stands for (pages word a refusal by its kind)."""
    return _KINDS.get(status)


# Path and query integers. Only ASCII digits count: ``"²".isdigit()`` is true, ``int("²")`` fails.

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


# CSRF for pages (the JSON API checks the header in server.auth.require_actor).

CSRF_SEED = web.RequestKey("csrf_seed", str)  # a new seed this response sets as the CSRF cookie


def csrf_token(request: web.Request) -> str:
    """Double-submit token bound to a per-browser random cookie (set on first render)."""
    seed = request.cookies.get(csrf.CSRF_COOKIE) or request.get(CSRF_SEED)
    if not seed:
        seed = request[CSRF_SEED] = csrf.new_seed()
    return csrf.token_for(services(request).config.secret_key, seed)


async def check_csrf(request: web.Request) -> dict[str, Any]:
    """Read a form POST and refuse it (403) unless its CSRF token matches this browser's cookie."""
    form = await request.post()
    sent = form.get(csrf.CSRF_FIELD) or request.headers.get(csrf.CSRF_HEADER, "")
    seed = request.cookies.get(csrf.CSRF_COOKIE)
    if not seed:
        raise ApiError(403, "csrf", "missing CSRF token; reload the page and try again")
    if not csrf.valid(services(request).config.secret_key, seed, sent):
        raise ApiError(403, "csrf", "invalid CSRF token; reload the page and try again")
    return dict(form)


def now_of(request: web.Request) -> datetime:
    """"Now" for a request's business: the app's clock (server.clock.Clock; tests set it)."""
    return services(request).clock.now()
