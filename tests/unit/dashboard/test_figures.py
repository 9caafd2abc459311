"""The dashboard's arithmetic: measures, rates, week buckets, rollups and the restricted-case rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from server.dashboard import figures as f
from server.dashboard.figures import CaseRow, Measures

NOW = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)


def row(path: str = "1/2/", status: str = "closed", outcome: str | None = "resolved", **kw) -> CaseRow:  # type: ignore[no-untyped-def]
    base = dict(category="disputes", grade="green", on_time=True, days_to_close=4.0, satisfaction=5.0,
                opened_on=date(2026, 3, 2), resolved_at=datetime(2026, 3, 4, tzinfo=UTC), due_at=None, code="c",
                title="t")
    base.update(kw)
    return CaseRow(path, status, outcome=outcome, **base)  # type: ignore[arg-type]


def test_rates_have_none_for_empty_denominators() -> None:
    m = Measures()
    assert (m.resolution_rate, m.on_time_rate, m.avg_days_to_close, m.satisfaction) == (None, None, None, None)
    m = Measures(n=4, resolved=3, failed=1, timed=4, on_time=1, closed=2, days_sum=9.0, rated=2, sat_sum=7.0)
    assert (m.resolution_rate, m.on_time_rate, m.avg_days_to_close, m.satisfaction) == (0.75, 0.25, 4.5, 3.5)


def test_measures_of_each_outcome() -> None:
    assert f.measures_of(row()) == Measures(n=1, resolved=1, timed=1, on_time=1, closed=1, days_sum=4.0, rated=1,
                                            sat_sum=5.0)
    failed = f.measures_of(row(status="failed", outcome="failed", on_time=False, days_to_close=2.0, satisfaction=None))
    assert (failed.failed, failed.timed, failed.on_time, failed.closed, failed.days_sum, failed.rated) == (
        1, 1, 0, 1, 2.0, 0)
    # Withdrawn and rejected cases have days but are not mediations: not in the average days to close.
    withdrawn = f.measures_of(row(status="withdrawn", outcome="withdrawn", on_time=None, days_to_close=1.0))
    assert (withdrawn.closed, withdrawn.days_sum, withdrawn.timed, withdrawn.resolved) == (0, 0.0, 0, 0)
    # Resolved but not yet closed: counted as resolved, no days yet.
    open_ = f.measures_of(row(status="follow_up", days_to_close=None))
    assert (open_.resolved, open_.closed, open_.handling) == (1, 0, 0)
    assert f.measures_of(row(status="in_mediation", outcome=None, on_time=None, days_to_close=None)).handling == 1


def test_weeks_are_local_mondays() -> None:
    assert f.week_start(date(2026, 3, 22)) == date(2026, 3, 16)  # Sunday
    assert f.week_start(date(2026, 3, 16)) == date(2026, 3, 16)
    # 17:30Z on Sunday is 01:30 on Monday in Asia/Shanghai: next week.
    late = row(resolved_at=datetime(2026, 3, 15, 17, 30, tzinfo=UTC))
    assert dict((d, b) for d, b, _ in f.contributions(late))["resolved"] == "2026-03-16"
    weeks = f.trend_weeks(NOW, 12)
    assert len(weeks) == 12 and weeks[-1] == date(2026, 3, 16) and weeks[0] == date(2025, 12, 29)
    start, end = f.week_bounds_utc(date(2026, 3, 16))
    assert start == datetime(2026, 3, 15, 16, tzinfo=UTC) and end - start == timedelta(weeks=1)


def test_contributions_cover_every_dimension() -> None:
    dims = {d: b for d, b, _ in f.contributions(row(category=None, grade=None))}
    assert dims == {"all": "", "category": "", "grade": "", "status": "closed", "opened": "2026-03-02",
                    "resolved": "2026-03-02"}
    assert "resolved" not in {d for d, _, _ in f.contributions(row(resolved_at=None))}


def test_child_paths_and_rollups() -> None:
    assert f.child_path("1/2/3/4/", "1/2/") == "1/2/3/"
    assert f.child_path("1/2/", "1/2/") == "1/2/"
    assert f.child_path("1/22/", "1/2/") is None
    per_unit = {"1/": Measures(n=1), "1/2/": Measures(n=2), "1/2/5/": Measures(n=4), "1/3/": Measures(n=8)}
    assert {k: m.n for k, m in f.roll_up(per_unit, lambda p: f.child_path(p, "1/")).items()} == {
        "1/": 1, "1/2/": 6, "1/3/": 8}
    assert f.total(per_unit.values()).n == 15


def test_small_restricted_counts_are_suppressed() -> None:
    assert [f.suppress(n) for n in (0, 1, 4, 5, 12)] == [0, None, None, 5, 12]


def test_assemble_adds_visible_restricted_cases_and_hides_the_rest() -> None:
    unit = "1/2/"
    dims = {("category", "disputes"): Measures(n=2, handling=1), ("opened", "2026-03-16"): Measures(n=1),
            ("status", "in_mediation"): Measures(n=1, handling=1)}
    per_unit = {"1/2/": Measures(n=1, handling=1), "1/2/7/": Measures(n=1, resolved=1)}
    due = NOW - timedelta(days=3)
    overdue_row = row(status="in_mediation", outcome=None, due_at=NOW - timedelta(days=1), code="x-1")
    dv = row(path="1/2/7/", status="triaged", outcome=None, category="policing", grade="red", on_time=None,
             days_to_close=None, satisfaction=None, resolved_at=None, opened_on=date(2026, 3, 17), due_at=due,
             code="dv-1")
    fig = f.assemble(unit, NOW, dims, per_unit, {"1/2/": 1}, [overdue_row], restricted_total=3,
                     visible_restricted=[dv], tier_of=lambda p: {"1/2/": "county", "1/2/7/": "township"}[p],
                     weeks=f.trend_weeks(NOW, 2))
    assert fig.totals.n == 3 and fig.totals.handling == 2
    assert {k: m.n for k, m in fig.by_category.items()} == {"disputes": 2, "policing": 1}
    assert fig.overdue_total == 2 and [c.code for c in fig.overdue] == ["dv-1", "x-1"]  # earliest deadline first
    assert fig.restricted_hidden == 2  # three restricted in the subtree, one of them visible
    assert fig.trend == [(date(2026, 3, 9), 0, 0), (date(2026, 3, 16), 2, 0)]
    assert {k: (m.n, m.overdue) for k, m in fig.by_tier.items()} == {"county": (1, 1), "township": (2, 1)}
    assert {k: m.n for k, m in fig.evaluation.items()} == {"1/2/": 1, "1/2/7/": 2}
    # The overdue list is cut to the limit after merging.
    fig = f.assemble(unit, NOW, dims, per_unit, {"1/2/": 1}, [overdue_row], 1, [dv], lambda p: "x",
                     f.trend_weeks(NOW), overdue_limit=1)
    assert [c.code for c in fig.overdue] == ["dv-1"] and fig.overdue_total == 2 and fig.restricted_hidden == 0
