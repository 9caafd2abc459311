"""The one source of absolute URLs the server writes down: ``CONCORD_PUBLIC_URL``.

Everything that leaves the browser — the agreement PDF's verify address and QR code, join and signing
links, QR codes on case pages and unit cards, text messages and exports — takes its absolute URL from
:func:`absolute`. Nothing here reads the request: a ``Host`` or ``X-Forwarded-Host`` header, forged or
not, never ends up in a document. When ``CONCORD_PUBLIC_URL`` is unset the server logs a warning at start
and documents carry :data:`PLACEHOLDER` ("未配置公开地址") instead of a link; pages shown in the browser
still work with relative links.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from server.qr import qr_svg

log = logging.getLogger("concord")

PLACEHOLDER = "未配置公开地址"
PLACEHOLDER_EN = "public address not configured"
WARNING = ("CONCORD_PUBLIC_URL is not set: documents, QR codes and messages say "
           f"\"{PLACEHOLDER}\" ({PLACEHOLDER_EN}) instead of a link. Set it to the address residents "
           "open, e.g. https://tiaojie.example.gov.cn")


def parse_public_url(raw: str | None) -> str | None:
    """``https://host[:port][/prefix]`` without a trailing slash; None when unset. ValueError on anything
    else (no user info, query or fragment: it is printed into every document)."""
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"must start with https:// or http://, not {raw!r}")
    if not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"must name a host and nothing else before the path: {raw!r}")
    if parts.query or parts.fragment or any(c.isspace() or ord(c) < 32 for c in raw):
        raise ValueError(f"must be a plain address without query, fragment or spaces: {raw!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise ValueError(f"has a bad port: {raw!r}") from e
    return raw.rstrip("/")


def base(holder: Any) -> str | None:
    """The configured public URL of a Config, or of the app's services (``services(request)``); None when
    unset."""
    config = _config(holder)
    return getattr(config, "public_url", None)


def _config(holder: Any) -> Any:
    """The Config of the app's services (server.services), or the Config itself (plain Python: no aiohttp)."""
    return getattr(holder, "config", holder)


def absolute(holder: Any, path: str) -> str | None:
    """``CONCORD_PUBLIC_URL`` + ``path`` (which starts with "/"), or None when no public URL is configured."""
    if not path.startswith("/"):
        raise ValueError(f"not an absolute path: {path!r}")
    b = base(holder)
    return f"{b}{path}" if b else None


def for_document(holder: Any, path: str, lang: str = "zh") -> str:
    """The absolute URL to print, or the placeholder in ``lang`` when none is configured."""
    return absolute(holder, path) or (PLACEHOLDER_EN if lang == "en" else PLACEHOLDER)


def for_page(holder: Any, path: str) -> str:
    """A link on a page in the browser: absolute when configured, else relative (the browser resolves it)."""
    return absolute(holder, path) or path


def placeholder_svg(box: int = 160, lang: str = "zh-CN") -> str:
    """What stands where a QR code would be when there is no public address to encode, in the reader's
    language (``lang``: "en" or Chinese)."""
    text = escape(PLACEHOLDER_EN if lang == "en" else PLACEHOLDER)
    size = 11 if lang == "en" else 16
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{box}" height="{box}" viewBox="0 0 160 160" '
            f'role="img" aria-label="{text}"><rect x="1" y="1" width="158" height="158" fill="#fff" '
            f'stroke="#999" stroke-dasharray="6 4"/><text x="80" y="86" text-anchor="middle" font-size="{size}" '
            f'fill="#555">{text}</text></svg>')


def qr_or_placeholder(holder: Any, path: str, box_size: int = 8, lang: str = "zh-CN") -> str:
    """An inline SVG QR code of the public URL of ``path``, or the placeholder drawing in ``lang``."""
    url = absolute(holder, path)
    if url is None:
        return placeholder_svg(lang=lang)

    return qr_svg(url, box_size=box_size)


def warn_if_unset(config: Any) -> bool:
    """Log the start-up warning when no public URL is configured; True when it was logged."""
    if getattr(config, "public_url", None):
        return False
    log.warning(WARNING)
    return True
