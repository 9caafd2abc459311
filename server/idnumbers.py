"""Resident ID numbers (公民身份号码, GB 11643-1999): the one validator that the case form and the agreement
editor share, so a number a case accepts is never refused later by its agreement."""

from __future__ import annotations

import re

_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

INVALID = ("公民身份号码无效：应为18位，末位校验码须正确（末位可为 X）。",
           "Invalid resident ID number: it has 18 characters and a correct check digit (the last may be X).")


def normalise(value: str) -> str:
    return value.strip().upper()


def valid_resident_id(value: str) -> bool:
    """18 characters, birth-date digits plausible, and the GB 11643 check digit right."""
    s = normalise(value)
    if not _ID_RE.match(s):
        return False
    month, day = int(s[10:12]), int(s[12:14])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == s[17]


def invalid_message(lang: str) -> str:
    """The refusal in the viewer's language ("en" or zh)."""
    return INVALID[1] if lang == "en" else INVALID[0]
