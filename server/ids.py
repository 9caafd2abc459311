"""Database ids from text, with no web framework: the one parser behind server/api/params.py and the
domain code that accepts an id or a code in the same field.

Every id column is a 32-bit INTEGER (server/*/models.py) on SQLite and PostgreSQL alike, so an id outside
1..MAX_ID cannot exist and is never handed to the database (where it would overflow: a 500). Only ASCII
digits count: ``"²".isdigit()`` is true, ``int("²")`` fails.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1


def parse_int(raw: str | None, lo: int, hi: int) -> int | None:
    """``raw`` as an integer in lo..hi (ASCII digits, an optional leading minus); None otherwise."""
    if raw is None or not raw.isascii() or len(raw) > 20:
        return None
    if not raw.removeprefix("-").isdigit():
        return None
    v = int(raw)
    return v if lo <= v <= hi else None


def parse_id(raw: str | None) -> int | None:
    """A database id: 1..MAX_ID; None for anything else."""
    return parse_int(raw, 1, MAX_ID)
