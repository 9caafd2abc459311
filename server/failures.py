"""Domain errors without HTTP: what went wrong, as a :class:`Kind` and a stable ``code``.

Domain and service modules (cases, agreements, sessions, uploads) raise :class:`DomainError` subclasses;
only the web layer (:mod:`server.http`) turns a ``Kind`` into an HTTP status, in one table, and the JSON
shape ``{"error": {"code", "message"}}``. No aiohttp here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    INVALID = "invalid"  # the request cannot be done as asked
    UNAUTHORIZED = "unauthorized"  # who is asking is not known
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # not in the current state (or based on a stale version)
    GONE = "gone"  # it existed, and is over
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"  # a type of file not taken
    UNREADABLE = "unreadable"  # an accepted type that cannot be read, or a value out of range
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"  # a dependency is down or busy


class DomainError(Exception):
    """A refusal: its ``kind``, a stable ``code`` for clients, an English ``message`` and extra fields."""

    kind: Kind = Kind.INVALID
    code: str = "invalid"

    def __init__(self, kind: Kind, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.extra = extra
