"""Reading the dashboard's figures: a handful of indexed aggregates, then ``figures.assemble``.

The query set for one unit (all bounded by the unit's path range, so a county reads only its subtree):
1. category / grade / status counts and the 12-week trend from ``case_rollup`` (unrestricted rows);
2. per-unit sums from ``case_rollup`` (``dim = 'all'``), restricted rows only as one total;
3. overdue counts per unit and 4. the overdue list, live from ``cases`` (they depend on "now");
5. the restricted cases this actor may see (named staff, live grants), through the case module's own
   visibility rule, so the dashboard never shows more than the case queries would.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from server import access
from server.cases.models import Case, CaseAccess
from server.cases.queries import path_prefix
from server.dashboard.figures import (
    HANDLING_STATUSES,
    ROLLUP_COLUMNS,
    CaseRow,
    Figures,
    Measures,
    assemble,
    trend_weeks,
)
from server.dashboard.models import CaseRollup as R
from server.policy import Actor

BREAKDOWNS = ("category", "grade", "status")
CASE_COLUMNS = (Case.id, Case.unit_path, Case.status, Case.category, Case.grade, Case.outcome, Case.on_time,
                Case.days_to_close, Case.satisfaction, Case.opened_on, Case.resolved_at, Case.due_at, Case.code,
                Case.title)


def _sums() -> list[Any]:
    return [func.sum(getattr(R, c)).label(c) for c in ROLLUP_COLUMNS]


def _measures(row: Any) -> Measures:
    return Measures(**{c: (getattr(row, c) or 0) for c in ROLLUP_COLUMNS})


def _case_row(row: Any) -> CaseRow:
    opened = row.opened_on if isinstance(row.opened_on, date) else date.fromisoformat(str(row.opened_on))
    return CaseRow(row.unit_path, row.status, row.category, row.grade, row.outcome,
                   None if row.on_time is None else bool(row.on_time), row.days_to_close, row.satisfaction,
                   opened, row.resolved_at, row.due_at, row.code, row.title, row.id)


def under(column: Any, unit_path: str) -> Any:
    """``column`` is in the subtree, as a test on the value rather than a range, so that the planner drives
    the query from another index (open statuses, recent weeks) instead of scanning the whole subtree.
    SQLite without stat4 takes any two-sided range for a narrow one: given ``path_prefix`` it walks the
    city's 100,000 cases by ``unit_path`` to find 3,000 overdue ones."""
    return func.substr(column, 1, len(unit_path)) == unit_path


def overdue_filter(unit_path: str, now: datetime) -> list[Any]:
    # Same definition as the case list's ``overdue=1`` filter (server.cases.queries.filtered).
    return [Case.restricted == false(), Case.status.in_(HANDLING_STATUSES), under(Case.unit_path, unit_path),
            Case.due_at.is_not(None), Case.due_at < now]


async def dimension_counts(s: AsyncSession, unit_path: str) -> dict[tuple[str, str], Measures]:
    q = (select(R.dim, R.bucket, *_sums())
         .where(R.dim.in_(BREAKDOWNS), R.restricted == false(), path_prefix(R.unit_path, unit_path))
         .group_by(R.dim, R.bucket))
    return {(row.dim, row.bucket): _measures(row) for row in (await s.execute(q)).all()}


async def trend_counts(s: AsyncSession, unit_path: str, first_week: date) -> dict[tuple[str, str], Measures]:
    """Cases opened and resolved per week since ``first_week`` (index ix_case_rollup_time covers it)."""
    q = (select(R.dim, R.bucket, func.sum(R.n).label("n"))
         .where(R.dim.in_(("opened", "resolved")), R.restricted == false(), R.bucket >= first_week.isoformat(),
                under(R.unit_path, unit_path))
         .group_by(R.dim, R.bucket))
    return {(row.dim, row.bucket): Measures(n=int(row.n or 0)) for row in (await s.execute(q)).all()}


async def unit_sums(s: AsyncSession, unit_path: str) -> tuple[dict[str, Measures], int]:
    """Unrestricted measures per owning unit, and the number of restricted cases in the subtree."""
    q = select(R.restricted, R.unit_path, *_sums()).where(R.dim == "all", path_prefix(R.unit_path, unit_path)) \
        .group_by(R.restricted, R.unit_path)
    per_unit: dict[str, Measures] = {}
    restricted = 0
    for row in (await s.execute(q)).all():
        if row.restricted:
            restricted += int(row.n or 0)
        else:
            per_unit[row.unit_path] = _measures(row)
    return per_unit, restricted


async def overdue_counts(s: AsyncSession, unit_path: str, now: datetime) -> dict[str, int]:
    q = select(Case.unit_path, func.count()).where(*overdue_filter(unit_path, now)).group_by(Case.unit_path)
    return {p: int(n) for p, n in (await s.execute(q)).all()}


async def overdue_cases(s: AsyncSession, unit_path: str, now: datetime, limit: int) -> list[CaseRow]:
    # Pick the ids from the overdue index alone (it ends in due_at, id), then read just those rows.
    first = select(Case.id).where(*overdue_filter(unit_path, now)).order_by(Case.due_at, Case.id).limit(limit)
    ids = list((await s.execute(first)).scalars())
    if not ids:
        return []
    rows = (await s.execute(select(*CASE_COLUMNS).where(Case.id.in_(ids)))).all()
    return sorted((_case_row(r) for r in rows), key=lambda c: (c.due_at, c.id))


async def visible_restricted(s: AsyncSession, actor: Actor, unit_path: str, now: datetime) -> list[CaseRow]:
    """Restricted cases in the subtree that this actor may open (``access.scope_cases``)."""
    # Driven from the actor's own access rows (few), then the same live-access rule as the case queries.
    mine = select(CaseAccess.case_id).where(CaseAccess.staff_id == actor.id)
    q = select(*CASE_COLUMNS).where(Case.id.in_(mine), Case.restricted == true(), path_prefix(Case.unit_path, unit_path),
                                    access.scope_cases(actor, now))
    return [_case_row(r) for r in (await s.execute(q)).all()]


async def load(s: AsyncSession, actor: Actor, unit_path: str, now: datetime, tier_of: Any, *, weeks: int = 12,
               overdue_limit: int = 50) -> Figures:
    """The figures of the subtree at ``unit_path`` as ``actor`` may see them (access checked by the caller)."""
    wk = trend_weeks(now, weeks)
    dims = await dimension_counts(s, unit_path)
    dims.update(await trend_counts(s, unit_path, wk[0]))
    per_unit, restricted_total = await unit_sums(s, unit_path)
    overdue_per_unit = await overdue_counts(s, unit_path, now)
    overdue_list = await overdue_cases(s, unit_path, now, overdue_limit)
    mine = await visible_restricted(s, actor, unit_path, now)
    return assemble(unit_path, now, dims, per_unit, overdue_per_unit, overdue_list, restricted_total, mine,
                    tier_of, wk, overdue_limit)
