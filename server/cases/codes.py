"""Case codes (一案一码): ``<county code>-<year>-<6-digit sequence>``, unique, e.g. 340321-2026-000123."""

from __future__ import annotations

import re

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import CaseCounter
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


async def next_code(s: AsyncSession, scope: str, year: int) -> str:
    """Reserve the next number inside the caller's transaction (row-locked by the UPDATE)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect_name(s) == "postgresql" else sqlite.insert
    await s.execute(insert(CaseCounter).values(scope=scope, year=year, last=0).on_conflict_do_nothing())
    seq = (await s.execute(
        update(CaseCounter).where(CaseCounter.scope == scope, CaseCounter.year == year)
        .values(last=CaseCounter.last + 1).returning(CaseCounter.last)
    )).scalar_one()
    if seq > 999_999:
        raise OverflowError(f"case numbers for {scope} in {year} are exhausted")
    return format_code(scope, year, seq)
