"""CSRF tokens (double submit): an HMAC of a random per-browser cookie, sent back in forms or a header.

Plain functions of bytes and strings, so both the page helpers and the API auth use the same rule.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CSRF_FIELD = "csrf_token"
CSRF_COOKIE = "concord_csrf"
CSRF_HEADER = "X-CSRF-Token"


def new_seed() -> str:
    return secrets.token_urlsafe(24)


def token_for(secret: bytes, seed: str) -> str:
    return hmac.new(secret, b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()


def valid(secret: bytes, seed: str | None, sent: object) -> bool:
    """True when ``sent`` is the token for this browser's ``seed`` cookie."""
    if not seed or not isinstance(sent, str) or not sent:
        return False
    return hmac.compare_digest(sent.encode(), token_for(secret, seed).encode())
