"""Web helpers shared by every domain's HTTP code: mapping domain errors to HTTP, client address, path and
query integers. Only the web layer imports this package (it imports aiohttp)."""

from __future__ import annotations

from server.errors import ApiError
from server.failures import DomainError, Kind

# The one place a domain error's kind becomes an HTTP status.
STATUS: dict[Kind, int] = {
    Kind.INVALID: 400, Kind.UNAUTHORIZED: 401, Kind.FORBIDDEN: 403, Kind.NOT_FOUND: 404, Kind.CONFLICT: 409,
    Kind.GONE: 410, Kind.TOO_LARGE: 413, Kind.UNSUPPORTED: 415, Kind.UNREADABLE: 422, Kind.RATE_LIMITED: 429,
    Kind.UNAVAILABLE: 503,
}


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


_KINDS = {status: kind for kind, status in STATUS.items()}
