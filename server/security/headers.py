"""Security headers on every response: pages, JSON, files, errors and redirects alike.

The Content-Security-Policy allows scripts only from this origin (``script-src 'self'``): no inline
``<script>`` and no ``on...=`` handlers in any template (pages pass data through ``data-*`` attributes or
``<script type="application/json">``, which browsers never execute). Styles are ``'self'`` too: pages use
classes from web/static/css instead of ``style="..."``; scripts may still set element.style (CSSOM), which
CSP does not govern.

- ``img-src data: blob:``: QR codes and signature previews are drawn as data URLs; photos may be previewed
  from blobs before upload.
- ``media-src blob:``: recordings and the camera preview may play from blob URLs.
- ``connect-src ws: wss:``: the room's signaling WebSocket. ``'self'`` covers same-origin WebSockets in
  current browsers; the schemes are listed for older Safari, which did not match ws: to 'self'.
"""

from __future__ import annotations

from aiohttp import web

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self' ws: wss:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: runs for every response, also static files and raised HTTP errors."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
