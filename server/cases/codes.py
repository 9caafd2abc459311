"""Case codes (一案一码): ``<county code>-<year>-<6-digit serial>``, unique, e.g. 340321-2026-472913.

The serial is not the count. A per-county-and-year counter still hands out numbers 1, 2, 3, ... (so
codes never run out early and two registrations never race for one), but the code shows that number
through a keyed permutation of 1..999999 (a small Feistel network, keyed by the server's secret and
tweaked by county and year). Without the key, a code says nothing about how many cases came before it,
and two codes say nothing about the cases between them: a hidden (DV) case leaves no gap to notice.
Codes made before this change (sequential serials) have the same format and stay valid. See
docs/cases.md, "Case codes".
"""

from __future__ import annotations

import hashlib
import hmac
import re

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case, CaseCounter
from server.db import dialect_name

CODE_RE = re.compile(r"^(\d{6})-(\d{4})-(\d{6})$")


def valid(code: str) -> bool:
    return bool(CODE_RE.match(code))


def scope_of(unit_path: str) -> str:
    """The county (or district) code of a unit path; city-level cases use the city's code."""
    parts = [p for p in unit_path.split("/") if p]
    return parts[1] if len(parts) > 1 else parts[0]


def format_code(scope: str, year: int, seq: int) -> str:
    return f"{scope}-{year:04d}-{seq:06d}"


SERIALS = 999_999  # serials 000001..999999, as before
_BITS = 10  # two 10-bit halves: 2**20 > SERIALS, cycle-walked back into range
_ROUNDS = 8


def _round(key: bytes, tweak: bytes, i: int, half: int) -> int:
    mac = hmac.new(key, tweak + bytes([i]) + half.to_bytes(2, "big"), hashlib.sha256).digest()
    return int.from_bytes(mac[:2], "big") & ((1 << _BITS) - 1)


def _feistel(key: bytes, tweak: bytes, x: int) -> int:
    mask = (1 << _BITS) - 1
    left, right = x >> _BITS, x & mask
    for i in range(_ROUNDS):
        left, right = right, left ^ _round(key, tweak, i, right)
    return (left << _BITS) | right


def serial_for(secret: bytes, scope: str, year: int, seq: int) -> int:
    """The serial shown for counter value ``seq`` (1..SERIALS): a bijection onto 1..SERIALS."""
    if not 1 <= seq <= SERIALS:
        raise ValueError("seq out of range")
    key = hmac.new(secret, b"concord-case-code", hashlib.sha256).digest()
    tweak = f"{scope}:{year:04d}:".encode()
    x = seq - 1
    while True:  # cycle walking: a permutation of 0..2**20-1 restricted to 0..SERIALS-1
        x = _feistel(key, tweak, x)
        if x < SERIALS:
            return x + 1


async def next_code(s: AsyncSession, scope: str, year: int, secret: bytes = b"") -> str:
    """Reserve the next number inside the caller's transaction (row-locked by the UPDATE), shown permuted.

    A code already taken (a sequential code from before, or one made under an earlier secret key) is
    skipped: the next number is reserved instead.
    """
    while True:
        code = format_code(scope, year, serial_for(secret, scope, year, await _next_seq(s, scope, year)))
        if (await s.execute(select(Case.id).where(Case.code == code))).first() is None:
            return code


async def _next_seq(s: AsyncSession, scope: str, year: int) -> int:
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect_name(s) == "postgresql" else sqlite.insert
    await s.execute(insert(CaseCounter).values(scope=scope, year=year, last=0).on_conflict_do_nothing())
    seq = (await s.execute(
        update(CaseCounter).where(CaseCounter.scope == scope, CaseCounter.year == year)
        .values(last=CaseCounter.last + 1).returning(CaseCounter.last)
    )).scalar_one()
    if seq > SERIALS:
        raise OverflowError(f"case numbers for {scope} in {year} are exhausted")
    return int(seq)
