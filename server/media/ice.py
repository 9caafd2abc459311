"""ICE servers for ``welcome``: STUN/TURN from configuration, with short-lived TURN credentials.

With ``CONCORD_TURN_SECRET`` set, every ``turn:``/``turns:`` entry gets credentials in coturn's
``use-auth-secret`` (TURN REST API) form: ``username = "<expiry unix time>:<peer id>"`` and
``credential = base64(HMAC-SHA1(secret, username))``. coturn checks the HMAC with the same
``static-auth-secret`` and refuses the username once its expiry has passed. A peer that reconnects gets
fresh credentials in its new ``welcome``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time
from typing import Any

TURN_TTL_S = 3 * 3600  # long enough for a mediation; short enough that a leaked credential soon dies


def turn_credentials(secret: str, peer_id: str, *, ttl_s: int = TURN_TTL_S, now: float | None = None) -> dict[str, str]:
    expiry = int((time.time() if now is None else now) + ttl_s)
    username = f"{expiry}:{peer_id}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(mac).decode(), "credentialType": "password"}


def _is_turn(urls: Any) -> bool:
    items = urls if isinstance(urls, list) else [urls]
    return any(isinstance(u, str) and (u.startswith("turn:") or u.startswith("turns:")) for u in items)


def ice_servers(configured: list[dict[str, Any]], turn_secret: str | None, peer_id: str, *,
                ttl_s: int = TURN_TTL_S, now: float | None = None) -> list[dict[str, Any]]:
    """The ``ice_servers`` list for one peer (RTCIceServer dictionaries)."""
    out = copy.deepcopy(configured)
    if turn_secret:
        creds = turn_credentials(turn_secret, peer_id, ttl_s=ttl_s, now=now)
        for server in out:
            if _is_turn(server.get("urls")) and "credential" not in server:
                server.update(creds)
    return out
