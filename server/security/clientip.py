"""Who is on the other end: the browser's address and scheme, also behind a reverse proxy.

``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed only when the direct peer is one of the
proxies in ``CONCORD_TRUSTED_PROXIES``; otherwise anyone could pick their own address and dodge the
per-IP login limit (or, without this, every user behind the proxy would share one limit).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

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


def client_ip(request: web.Request) -> str:
    proxies = getattr(request.app["config"], "trusted_proxies", ())
    return forwarded_client(request.remote, request.headers.get("X-Forwarded-For", ""), proxies) or "unknown"


def is_https(request: web.Request) -> bool:
    """The browser used HTTPS: directly, or as reported by a trusted proxy."""
    if request.secure:
        return True
    proxies = getattr(request.app["config"], "trusted_proxies", ())
    return _trusted(request.remote, proxies) and \
        request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"
