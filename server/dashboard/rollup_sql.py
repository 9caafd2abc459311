"""The case rollup in SQL: the table's contents are ``figures.contributions`` summed per unit.

Triggers on ``cases`` keep ``case_rollup`` exact on every insert, update and delete, whoever writes (the
case workflow, follow-ups, the intake form, a script). ``rebuild`` recomputes it from scratch (after a
bulk load, or to check it). The same expressions serve both, for SQLite and PostgreSQL.

The migration ``0008_dashboard`` holds a frozen copy of this SQL as it was when written; changing the SQL
here needs a new migration that drops and recreates the triggers (tests/unit/test_packaging.py compares the
two so the change cannot go unnoticed).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from server.dashboard.figures import CONCLUDED, HANDLING_STATUSES, ROLLUP_COLUMNS

# Columns whose change moves a case between rollup rows.
WATCHED = ("unit_path", "restricted", "status", "category", "grade", "outcome", "on_time", "days_to_close",
           "satisfaction", "opened_on", "resolved_at")
KEY = ("dim", "restricted", "unit_path", "bucket")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def measure_exprs(r: str) -> dict[str, str]:
    """SQL for each measure of one case row aliased ``r`` (mirrors figures.measures_of)."""
    closed = f"{r}.days_to_close IS NOT NULL AND {r}.outcome IN {_in(CONCLUDED)}"
    exprs = {
        "n": "1",
        "handling": f"CASE WHEN {r}.status IN {_in(HANDLING_STATUSES)} THEN 1 ELSE 0 END",
        "resolved": f"CASE WHEN {r}.outcome = 'resolved' THEN 1 ELSE 0 END",
        "failed": f"CASE WHEN {r}.outcome = 'failed' THEN 1 ELSE 0 END",
        "timed": f"CASE WHEN {r}.on_time IS NOT NULL THEN 1 ELSE 0 END",
        "on_time": f"CASE WHEN {r}.on_time THEN 1 ELSE 0 END",
        "closed": f"CASE WHEN {closed} THEN 1 ELSE 0 END",
        "days_sum": f"CASE WHEN {closed} THEN {r}.days_to_close ELSE 0.0 END",
        "rated": f"CASE WHEN {r}.satisfaction IS NOT NULL THEN 1 ELSE 0 END",
        "sat_sum": f"COALESCE({r}.satisfaction, 0.0)",
    }
    assert tuple(exprs) == ROLLUP_COLUMNS
    return exprs


def _week(expr: str, dialect: str, *, utc_time: bool) -> str:
    """The local week's Monday as 'YYYY-MM-DD'. Times are naive UTC; Asia/Shanghai is UTC+8, no DST."""
    if dialect == "sqlite":
        shift = "'+8 hours', " if utc_time else ""
        return f"date({expr}, {shift}'-6 days', 'weekday 1')"
    local = f"({expr} + interval '8 hours')" if utc_time else expr
    return f"to_char(date_trunc('week', {local}), 'YYYY-MM-DD')"


def buckets(r: str, dialect: str) -> list[tuple[str, str, str]]:
    """(dimension, bucket SQL, condition SQL) per dimension (mirrors figures.contributions)."""
    return [
        ("all", "''", "1 = 1"),
        ("category", f"COALESCE({r}.category, '')", "1 = 1"),
        ("grade", f"COALESCE({r}.grade, '')", "1 = 1"),
        ("status", f"{r}.status", "1 = 1"),
        ("opened", _week(f"{r}.opened_on", dialect, utc_time=False), "1 = 1"),
        ("resolved", _week(f"{r}.resolved_at", dialect, utc_time=True), f"{r}.resolved_at IS NOT NULL"),
    ]


def _upserts(r: str, sign: int, dialect: str) -> list[str]:
    m = measure_exprs(r)
    cols = ", ".join(KEY + ROLLUP_COLUMNS)
    updates = ", ".join(f"{c} = case_rollup.{c} + excluded.{c}" for c in ROLLUP_COLUMNS)
    out = []
    for dim, bucket, cond in buckets(r, dialect):
        values = ", ".join(f"{sign} * ({m[c]})" for c in ROLLUP_COLUMNS)
        # "WHERE" after the SELECT keeps SQLite's parser from reading ON CONFLICT as a join constraint.
        out.append(
            f"INSERT INTO case_rollup ({cols}) SELECT '{dim}', {r}.restricted, {r}.unit_path, {bucket}, {values} "
            f"WHERE {cond} ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}"
        )
    return out


TRIGGERS = ("case_rollup_ins", "case_rollup_upd", "case_rollup_del")


def create_triggers(dialect: str) -> list[str]:
    """DDL statements that keep case_rollup in step with cases."""
    watched = ", ".join(WATCHED)
    old, new = _upserts("OLD", -1, dialect), _upserts("NEW", 1, dialect)
    if dialect == "sqlite":
        def body(stmts: list[str]) -> str:
            return "BEGIN " + " ".join(s + ";" for s in stmts) + " END"

        return [
            f"CREATE TRIGGER case_rollup_ins AFTER INSERT ON cases FOR EACH ROW {body(new)}",
            f"CREATE TRIGGER case_rollup_upd AFTER UPDATE OF {watched} ON cases FOR EACH ROW {body(old + new)}",
            f"CREATE TRIGGER case_rollup_del AFTER DELETE ON cases FOR EACH ROW {body(old)}",
        ]
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)
    # Rollup rows of one unit are touched in varying orders by concurrent writers (OLD status row, then
    # NEW, or the reverse): lock the units involved, in a fixed order, before touching any row, so two
    # transactions never deadlock on the rollup.
    lock = ("PERFORM pg_advisory_xact_lock(hashtext('case_rollup:' || p)) FROM (SELECT DISTINCT p FROM "
            "unnest(ARRAY[{paths}]) AS p WHERE p IS NOT NULL ORDER BY p) AS ordered;")
    func = f"""
CREATE OR REPLACE FUNCTION case_rollup_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {lock.format(paths="NEW.unit_path")}
    {" ".join(s + ";" for s in new)}
  ELSIF TG_OP = 'UPDATE' THEN
    {lock.format(paths="OLD.unit_path, NEW.unit_path")}
    {" ".join(s + ";" for s in old + new)}
  ELSE
    {lock.format(paths="OLD.unit_path")}
    {" ".join(s + ";" for s in old)}
  END IF;
  RETURN NULL;
END
$$"""
    return [
        func,
        "CREATE TRIGGER case_rollup_ins AFTER INSERT ON cases FOR EACH ROW EXECUTE FUNCTION case_rollup_sync()",
        f"CREATE TRIGGER case_rollup_upd AFTER UPDATE OF {watched} ON cases FOR EACH ROW WHEN ({changed}) "
        "EXECUTE FUNCTION case_rollup_sync()",
        "CREATE TRIGGER case_rollup_del AFTER DELETE ON cases FOR EACH ROW EXECUTE FUNCTION case_rollup_sync()",
    ]


def drop_triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {t}" for t in TRIGGERS]
    return [f"DROP TRIGGER IF EXISTS {t} ON cases" for t in TRIGGERS] + ["DROP FUNCTION IF EXISTS case_rollup_sync()"]


def rebuild_statements(dialect: str) -> list[str]:
    """Empty the rollup and recompute it from cases with one grouped INSERT per dimension."""
    m = measure_exprs("c")
    cols = ", ".join(KEY + ROLLUP_COLUMNS)
    out = ["DELETE FROM case_rollup"]
    for dim, bucket, cond in buckets("c", dialect):
        sums = ", ".join(f"SUM({m[c]})" for c in ROLLUP_COLUMNS)
        out.append(
            f"INSERT INTO case_rollup ({cols}) SELECT '{dim}', c.restricted, c.unit_path, {bucket}, {sums} "
            f"FROM cases AS c WHERE {cond} GROUP BY 2, 3, 4"
        )
    return out


async def rebuild(conn: AsyncConnection) -> None:
    for stmt in rebuild_statements(conn.dialect.name):
        await conn.execute(text(stmt))
