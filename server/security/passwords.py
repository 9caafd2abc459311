"""scrypt password hashes: ``scrypt$n$r$p$salt$hash`` (base64)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    b = base64.b64encode
    return f"scrypt${N}${R}${P}${b(salt).decode()}${b(dk).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, dk = stored.split("$")
        if algo != "scrypt":
            return False
        expected = base64.b64decode(dk)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# A real hash to check against when the user does not exist, so timing does not reveal who exists.
DUMMY_HASH = hash_password(secrets.token_urlsafe(12))
