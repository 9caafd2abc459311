"""Signed, expiring tokens (API bearer tokens, browser sessions, join invitations).

Format: ``base64url(json payload) "." base64url(HMAC-SHA256(key_for_purpose, payload))``.
Each purpose gets its own derived key, so a join token can never pass as an API token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


class TokenError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _key(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, b"concord-token:" + purpose.encode(), hashlib.sha256).digest()


def sign(secret: bytes, purpose: str, payload: dict[str, Any], ttl_s: float, now: float | None = None) -> str:
    body = dict(payload)
    body["exp"] = int((now if now is not None else time.time()) + ttl_s)
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    mac = hmac.new(_key(secret, purpose), raw, hashlib.sha256).digest()
    return f"{_b64(raw)}.{_b64(mac)}"


def verify(secret: bytes, purpose: str, token: str, now: float | None = None) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 1:
        raise TokenError("token_malformed", "malformed token")
    raw_s, mac_s = token.split(".")
    try:
        raw, mac = _unb64(raw_s), _unb64(mac_s)
    except (ValueError, TypeError) as e:
        raise TokenError("token_malformed", "malformed token") from e
    good = hmac.new(_key(secret, purpose), raw, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, good):
        raise TokenError("token_invalid", "invalid token signature")
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise TokenError("token_malformed", "malformed token") from e
    if not isinstance(body, dict) or not isinstance(body.get("exp"), int):
        raise TokenError("token_malformed", "malformed token")
    if body["exp"] < (now if now is not None else time.time()):
        raise TokenError("token_expired", "token expired")
    return body
