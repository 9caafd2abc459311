"""Domain errors of the case module; the API maps ``status`` and ``code`` onto its JSON error shape."""

from __future__ import annotations


class CaseError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Invalid(CaseError):
    status = 400
    code = "invalid"


class NotFound(CaseError):
    """Also what unlisted staff get for a restricted case: its existence is not confirmed."""

    status = 404
    code = "not_found"


class Denied(CaseError):
    status = 403
    code = "forbidden"


class Stale(CaseError):
    status = 409
    code = "stale_version"


class Conflict(CaseError):
    status = 409
    code = "conflict"


class TooLarge(CaseError):
    status = 413
    code = "too_large"


class UnsupportedType(CaseError):
    status = 415
    code = "unsupported_media_type"
