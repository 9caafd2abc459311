"""The small pieces shared by the unit keyring (keys.py) and the city CA (ca.py): the unit code's shape,
the key store's error, and base64 as the key files write it."""

from __future__ import annotations

import base64
import re

_UNIT_RE = re.compile(r"^[0-9A-Za-z_-]{1,32}$")


class KeyStoreError(Exception):
    """A key file is missing, unreadable, or does not decrypt with this server's secret."""


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)
