"""One error shape for the whole API: ``{"error": {"code", "message"}}`` with a fitting 4xx."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from server.failures import DomainError, Kind
from server.i18n import LANG_HEADER, language_of, localise
from server.services import services

log = logging.getLogger("concord")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self, request: web.Request | None = None) -> web.Response:
        body = {"error": {"code": self.code, "message": self.message, **self.extra}}
        lang = request.headers.get(LANG_HEADER) if request is not None else None
        if lang:
            # The page's own API calls (web/static/js/concord.js) show this text to the viewer.
            body["error"]["display"] = localise(self.message, language_of({}, {}, lang), self.code)
        return web.json_response(body, status=self.status, dumps=_dumps)


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def bad_request(message: str, code: str = "bad_request", **extra: Any) -> ApiError:
    return ApiError(400, code, message, **extra)


def unauthorized(message: str = "authentication required") -> ApiError:
    return ApiError(401, "unauthorized", message)


def forbidden(message: str = "not allowed for your role or tier") -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(message: str = "not found") -> ApiError:
    return ApiError(404, "not_found", message)


def conflict(message: str, code: str = "conflict") -> ApiError:
    return ApiError(409, code, message)


# The one place a domain error's kind (server.failures) becomes an HTTP status.
STATUS: dict[Kind, int] = {
    Kind.INVALID: 400, Kind.UNAUTHORIZED: 401, Kind.FORBIDDEN: 403, Kind.NOT_FOUND: 404, Kind.CONFLICT: 409,
    Kind.GONE: 410, Kind.TOO_LARGE: 413, Kind.UNSUPPORTED: 415, Kind.UNREADABLE: 422, Kind.RATE_LIMITED: 429,
    Kind.UNAVAILABLE: 503,
}

_STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
}


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api") or request.path in ("/healthz", "/ws") or (
        "application/json" in request.headers.get("Accept", "") and "text/html" not in request.headers.get("Accept", "")
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        try:
            return await handler(request)
        except DomainError as d:  # one a handler did not answer itself: the same shape, by its kind
            raise ApiError(STATUS[d.kind], d.code, d.message, **d.extra) from d
    except ApiError as e:
        if _wants_json(request):
            return e.response(request)
        lang = language_of(request.query, request.cookies)
        return await _html_error(request, e.status, localise(e.message, lang, e.code))
    except web.HTTPException as e:
        if e.status < 400:
            raise
        if _wants_json(request):
            code = _STATUS_CODES.get(e.status, "error")
            resp = ApiError(e.status, code, e.reason or code).response(request)
        elif e.content_type == "text/html":
            raise
        else:
            resp = await _html_error(request, e.status, e.reason or "")
        # 405 must say what is allowed (RFC 9110); keep such headers from the original exception.
        for name in ("Allow", "Retry-After", "WWW-Authenticate"):
            if name in e.headers:
                resp.headers[name] = e.headers[name]
        return resp
    except Exception as e:
        if isinstance(e, UnicodeError) and _undecodable_path(request):
            # A path segment that is not text (lone surrogates, bytes that are not UTF-8) names nothing.
            if _wants_json(request):
                return not_found().response(request)
            return await _html_error(request, 404, localise("not found", language_of(request.query, request.cookies),
                                                            "not_found"))
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json(request):
            return ApiError(500, "internal", "internal server error").response(request)
        return await _html_error(request, 500, "internal server error")


def _undecodable_path(request: web.Request) -> bool:
    try:
        for value in (request.path, *request.match_info.values()):
            unquote(value, errors="strict").encode("utf-8")
    except UnicodeError:
        return True
    return False


async def _html_error(request: web.Request, status: int, message: str) -> web.Response:
    render = services(request).render_error
    if render is not None:
        try:
            return await render(request, status, message)
        except Exception:
            log.exception("error page failed")
    return web.Response(status=status, text=f"{status}: {message}", content_type="text/plain")


async def read_body(request: web.Request, max_bytes: int, message: str = "") -> bytes:
    """The whole request body, refused with 413 once over ``max_bytes`` (declared or as it arrives)."""
    message = message or f"request body over {max_bytes} bytes"
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "too_large", message)
    # content.read(n) returns what has arrived so far, not n bytes: read to the end, with the limit.
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, "too_large", message)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: web.Request, max_bytes: int = 256 * 1024) -> dict[str, Any]:
    """Parse a JSON object body with a size limit; every failure is a clear 4xx."""
    raw = await read_body(request, max_bytes)
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request("request body is not valid JSON", "invalid_json") from e
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object", "invalid_json")
    return body


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...] = str, *, required: bool = True,
          max_len: int = 1000, default: Any = None) -> Any:
    """Fetch and type-check one field of a JSON body."""
    if name not in body or body[name] is None:
        if required:
            raise bad_request(f"missing field: {name}", "missing_field", field=name)
        return default
    v = body[name]
    if isinstance(v, bool) and kind in (int, float):
        raise bad_request(f"field {name} has the wrong type", "invalid_field", field=name)
    if not isinstance(v, kind):
        raise bad_request(f"field {name} has the wrong type", "invalid_field", field=name)
    if isinstance(v, str) and len(v) > max_len:
        raise bad_request(f"field {name} is longer than {max_len}", "invalid_field", field=name)
    return v
