"""Who is on the other end: the browser's address, scheme and host, also behind a reverse proxy.

Every piece of client-address logic lives here; no other module reads ``request.remote``, the
``X-Forwarded-*`` headers or ``Forwarded`` (RFC 7239). Those headers are believed only when the direct peer
is one of the proxies in ``CONCORD_TRUSTED_PROXIES``; otherwise anyone could pick their own address and
dodge the per-IP login limit, or make the server print links to a host of their choosing.
``X-Forwarded-*`` wins over ``Forwarded`` when a proxy sends both.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from aiohttp import web

from server.services import services

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 172.28.0.2"`` -> networks; raises ValueError on a bad entry."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())


def _trusted(addr: str | None, proxies: Iterable[Network]) -> bool:
    if not addr:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def forwarded_client(peer: str | None, forwarded_for: str, proxies: tuple[Network, ...]) -> str | None:
    """The client address: walk X-Forwarded-For from the right past trusted proxies."""
    if not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage in the header: fall back to the proxy itself
    return hops[0] if hops else peer


def forwarded_pairs(header: str) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded``: one dict per hop, keys lower-cased, quotes removed; junk is skipped."""
    hops = []
    for element in header.split(","):
        pairs: dict[str, str] = {}
        for part in element.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key:
                pairs[key.strip().lower()] = value.strip().strip('"')
        if pairs:
            hops.append(pairs)
    return hops


def _forwarded_for(value: str) -> str:
    """``for=`` as an address: ``"[2001:db8::1]:4711"`` -> ``2001:db8::1``, ``192.0.2.1:80`` -> ``192.0.2.1``."""
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else ""
    return value.split(":")[0] if value.count(":") == 1 else value


def _trusted_peer(request: web.Request) -> bool:
    return _trusted(request.remote, getattr(services(request).config, "trusted_proxies", ()))


def client_ip(request: web.Request) -> str:
    proxies = getattr(services(request).config, "trusted_proxies", ())
    xff = request.headers.get("X-Forwarded-For", "")
    if not xff and _trusted(request.remote, proxies) and "Forwarded" in request.headers:
        xff = ", ".join(_forwarded_for(h.get("for", "")) for h in forwarded_pairs(request.headers["Forwarded"]))
    return forwarded_client(request.remote, xff, proxies) or "unknown"


def is_https(request: web.Request) -> bool:
    """The browser used HTTPS: directly, or as reported by a trusted proxy."""
    return scheme(request) == "https"


def scheme(request: web.Request) -> str:
    """``https`` or ``http`` as the browser sees it."""
    if request.secure:
        return "https"
    if _trusted_peer(request):
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if not proto and "Forwarded" in request.headers:
            hops = forwarded_pairs(request.headers["Forwarded"])
            proto = hops[0].get("proto", "").lower() if hops else ""
        if proto in ("http", "https"):
            return proto
    return "http"


# A host name or IPv4 address, or a bracketed IPv6 address, with an optional port. Nothing else is
# printed into a link: no user info, path, spaces or control characters.
HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}"
                  r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def host(request: web.Request) -> str:
    """The host (and port) the browser addressed: the forwarded one from a trusted proxy, else Host."""
    if _trusted_peer(request):
        forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        if not forwarded and "Forwarded" in request.headers:
            hops = forwarded_pairs(request.headers["Forwarded"])
            forwarded = hops[0].get("host", "") if hops else ""
        if forwarded and HOST.match(forwarded):
            return forwarded
    own = request.host
    return own if HOST.match(own) else "localhost"


def origin(request: web.Request) -> str:
    """``scheme://host`` as the browser addressed it. Never written into a document, QR code or message:
    those take CONCORD_PUBLIC_URL (server/publicurl.py)."""
    return f"{scheme(request)}://{host(request)}"
