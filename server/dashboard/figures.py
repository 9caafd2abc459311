"""The dashboard's arithmetic, as plain Python (no I/O): measures, rates, rollups over the unit tree.

What a case contributes to the figures is defined once here (``contributions``); the database keeps the
same sums pre-aggregated per unit in ``case_rollup`` (``server.dashboard.rollup_sql`` is the SQL twin of
``contributions``, and a test checks that they agree).

Definitions (考核口径):
- resolution rate (化解率) = resolved / (resolved + failed): of the mediations that reached an outcome,
  the share that ended in an effective agreement. Withdrawn and rejected cases are not mediations.
- on-time rate (按期办结率) = outcomes reached by the grade deadline / outcomes with a deadline.
- average days to close (平均办结天数) = mean days from registration to closure over resolved cases
  that are closed and failed cases.
- satisfaction (满意度) = mean over cases of the case's mean follow-up satisfaction (1-5), so a case
  visited five times weighs as much as a case visited once.
A rate with an empty denominator is ``None`` (shown as "—"), never 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta

from server.cases.workflow import HANDLING
from server.clock import BEIJING

# Statuses in a fixed order, so generated SQL and tests are stable.
HANDLING_STATUSES: tuple[str, ...] = tuple(sorted(str(s) for s in HANDLING))
CONCLUDED = ("resolved", "failed")
# Dimensions of the rollup; "opened"/"resolved" buckets are the Monday of the local week.
DIMENSIONS = ("all", "category", "grade", "status", "opened", "resolved")
# Small counts of restricted (domestic-violence) cases are not shown: a "1" at a village says too much.
SUPPRESS_BELOW = 5


@dataclass
class Measures:
    """Additive sums; rates are derived. ``overdue`` is live (time-dependent) and never pre-aggregated."""

    n: int = 0
    handling: int = 0
    resolved: int = 0
    failed: int = 0
    timed: int = 0
    on_time: int = 0
    closed: int = 0
    days_sum: float = 0.0
    rated: int = 0
    sat_sum: float = 0.0
    overdue: int = 0

    def add(self, other: Measures, sign: int = 1) -> Measures:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + sign * getattr(other, f.name))
        return self

    @property
    def concluded(self) -> int:
        return self.resolved + self.failed

    @property
    def resolution_rate(self) -> float | None:
        return ratio(self.resolved, self.concluded)

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.on_time, self.timed)

    @property
    def avg_days_to_close(self) -> float | None:
        return None if self.closed == 0 else self.days_sum / self.closed

    @property
    def satisfaction(self) -> float | None:
        return None if self.rated == 0 else self.sat_sum / self.rated


ROLLUP_COLUMNS = tuple(f.name for f in fields(Measures) if f.name != "overdue")


def ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


@dataclass(frozen=True)
class CaseRow:
    """The columns of a case that the dashboard reads."""

    unit_path: str
    status: str
    category: str | None
    grade: str | None
    outcome: str | None
    on_time: bool | None
    days_to_close: float | None
    satisfaction: float | None
    opened_on: date
    resolved_at: datetime | None
    due_at: datetime | None = None
    code: str = ""
    title: str = ""
    id: int = 0


def measures_of(case: CaseRow) -> Measures:
    counted_close = case.days_to_close is not None and case.outcome in CONCLUDED
    return Measures(
        n=1,
        handling=int(case.status in HANDLING_STATUSES),
        resolved=int(case.outcome == "resolved"),
        failed=int(case.outcome == "failed"),
        timed=int(case.on_time is not None),
        on_time=int(bool(case.on_time)),
        closed=int(counted_close),
        days_sum=float(case.days_to_close) if counted_close else 0.0,  # type: ignore[arg-type]
        rated=int(case.satisfaction is not None),
        sat_sum=float(case.satisfaction or 0.0),
    )


def local_date(at: datetime) -> date:
    return at.astimezone(BEIJING).date()


def week_start(d: date) -> date:
    """The Monday of ``d``'s week."""
    return d - timedelta(days=d.weekday())


def contributions(case: CaseRow) -> list[tuple[str, str, Measures]]:
    """(dimension, bucket, measures) rows that one case adds to the rollup."""
    m = measures_of(case)
    out = [
        ("all", "", m),
        ("category", case.category or "", m),
        ("grade", case.grade or "", m),
        ("status", case.status, m),
        ("opened", week_start(case.opened_on).isoformat(), m),
    ]
    if case.resolved_at is not None:
        out.append(("resolved", week_start(local_date(case.resolved_at)).isoformat(), m))
    return out


def is_overdue(case: CaseRow, now: datetime) -> bool:
    return case.status in HANDLING_STATUSES and case.due_at is not None and now > case.due_at


def trend_weeks(now: datetime, count: int = 12) -> list[date]:
    """Mondays of the last ``count`` local weeks, oldest first; the last is the current week."""
    this = week_start(local_date(now))
    return [this - timedelta(weeks=count - 1 - i) for i in range(count)]


def week_bounds_utc(monday: date) -> tuple[datetime, datetime]:
    start = datetime(monday.year, monday.month, monday.day, tzinfo=BEIJING).astimezone(UTC)
    return start, start + timedelta(weeks=1)


def child_path(unit_path: str, parent_path: str) -> str | None:
    """The path of ``parent_path``'s direct child that contains ``unit_path``; the parent itself for its
    own cases; None when ``unit_path`` is outside the parent's subtree."""
    if not unit_path.startswith(parent_path):
        return None
    rest = unit_path[len(parent_path):]
    if not rest:
        return parent_path
    return parent_path + rest.split("/", 1)[0] + "/"


def roll_up(per_unit: Mapping[str, Measures], key: Callable[[str], str | None]) -> dict[str, Measures]:
    """Sum per-unit measures into groups named by ``key(unit_path)`` (None drops the unit)."""
    out: dict[str, Measures] = {}
    for path, m in per_unit.items():
        k = key(path)
        if k is not None:
            out.setdefault(k, Measures()).add(m)
    return out


def total(items: Iterable[Measures]) -> Measures:
    out = Measures()
    for m in items:
        out.add(m)
    return out


def suppress(n: int, below: int = SUPPRESS_BELOW) -> int | None:
    """A count of restricted cases fit to show: None (shown as "<5") when it is small but not zero."""
    return n if n == 0 or n >= below else None


@dataclass
class Figures:
    """Everything the dashboard shows for one unit, rolled up over its subtree."""

    unit_path: str
    now: datetime
    totals: Measures
    by_category: dict[str, Measures]
    by_grade: dict[str, Measures]
    by_status: dict[str, Measures]
    per_unit: dict[str, Measures]
    trend: list[tuple[date, int, int]]
    overdue: list[CaseRow]
    overdue_total: int
    restricted_hidden: int
    by_tier: dict[str, Measures] = field(default_factory=dict)
    evaluation: dict[str, Measures] = field(default_factory=dict)


def assemble(
    unit_path: str,
    now: datetime,
    dims: Mapping[tuple[str, str], Measures],
    per_unit: Mapping[str, Measures],
    overdue_per_unit: Mapping[str, int],
    overdue_list: list[CaseRow],
    restricted_total: int,
    visible_restricted: list[CaseRow],
    tier_of: Callable[[str], str | None],
    weeks: list[date],
    overdue_limit: int = 50,
) -> Figures:
    """Combine the aggregates read from the database with the restricted cases the actor may see.

    ``dims``/``per_unit``/``overdue_*`` cover unrestricted cases only. Restricted cases the actor is named
    on (or granted) are added here case by case, exactly as the rollup would count them; the rest are
    one opaque number, ``restricted_hidden``, which callers show only through ``suppress``.
    """
    dim_acc: dict[tuple[str, str], Measures] = {k: Measures().add(v) for k, v in dims.items()}
    units: dict[str, Measures] = {k: Measures().add(v) for k, v in per_unit.items()}
    for path, n in overdue_per_unit.items():
        units.setdefault(path, Measures()).overdue += n
    overdue = list(overdue_list)
    overdue_total = sum(overdue_per_unit.values())
    for case in visible_restricted:
        if not case.unit_path.startswith(unit_path):
            continue
        for dim, bucket, m in contributions(case):
            if dim == "all":
                units.setdefault(case.unit_path, Measures()).add(m)
            else:
                dim_acc.setdefault((dim, bucket), Measures()).add(m)
        if is_overdue(case, now):
            units[case.unit_path].overdue += 1
            overdue_total += 1
            overdue.append(case)
    overdue.sort(key=lambda c: (c.due_at or now, c.id))

    def group(dim: str) -> dict[str, Measures]:
        return {b: m for (d, b), m in sorted(dim_acc.items()) if d == dim and m.n}

    opened = group("opened")
    resolved = group("resolved")
    trend = [(w, opened.get(w.isoformat(), Measures()).n, resolved.get(w.isoformat(), Measures()).n)
             for w in weeks]
    units = {p: m for p, m in units.items() if m.n or m.overdue}
    totals = total(units.values())
    return Figures(
        unit_path=unit_path, now=now, totals=totals, by_category=group("category"), by_grade=group("grade"),
        by_status=group("status"), per_unit=units, trend=trend, overdue=overdue[:overdue_limit],
        overdue_total=overdue_total, restricted_hidden=max(0, restricted_total - len(
            [c for c in visible_restricted if c.unit_path.startswith(unit_path)])),
        by_tier=roll_up(units, tier_of), evaluation=roll_up(units, lambda p: child_path(p, unit_path)),
    )
