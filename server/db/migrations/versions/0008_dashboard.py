"""dashboard: case_rollup (pre-aggregated per unit, kept by triggers on cases) and the overdue index

Revision ID: 0008_dashboard
Revises: 0004_cases

Frozen: the trigger and rebuild SQL below is a copy of ``server.dashboard.rollup_sql`` (with the status and
column lists of ``server.dashboard.figures``) as they were when this migration was written (commit d0fa39b),
so later changes to the live code cannot change what this migration does. A change to the rollup SQL needs
a new migration that drops and recreates the triggers.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_dashboard"
down_revision = "0004_cases"
branch_labels = None
depends_on = None

PATH = sa.String(length=400).with_variant(sa.String(length=400, collation="C"), "postgresql")

# --- frozen copy of server/dashboard/rollup_sql.py at d0fa39b -------------------------------------------
HANDLING_STATUSES = ("accepted", "agreement_signing", "assigned", "in_mediation", "registered", "suspended",
                     "transferred", "triaged")
CONCLUDED = ("resolved", "failed")
ROLLUP_COLUMNS = ("n", "handling", "resolved", "failed", "timed", "on_time", "closed", "days_sum", "rated",
                  "sat_sum")
WATCHED = ("unit_path", "restricted", "status", "category", "grade", "outcome", "on_time", "days_to_close",
           "satisfaction", "opened_on", "resolved_at")
KEY = ("dim", "restricted", "unit_path", "bucket")
TRIGGERS = ("case_rollup_ins", "case_rollup_upd", "case_rollup_del")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _measures(r: str) -> dict[str, str]:
    closed = f"{r}.days_to_close IS NOT NULL AND {r}.outcome IN {_in(CONCLUDED)}"
    return {
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


def _week(expr: str, dialect: str, *, utc_time: bool) -> str:
    if dialect == "sqlite":
        shift = "'+8 hours', " if utc_time else ""
        return f"date({expr}, {shift}'-6 days', 'weekday 1')"
    local = f"({expr} + interval '8 hours')" if utc_time else expr
    return f"to_char(date_trunc('week', {local}), 'YYYY-MM-DD')"


def _buckets(r: str, dialect: str) -> list[tuple[str, str, str]]:
    return [
        ("all", "''", "1 = 1"),
        ("category", f"COALESCE({r}.category, '')", "1 = 1"),
        ("grade", f"COALESCE({r}.grade, '')", "1 = 1"),
        ("status", f"{r}.status", "1 = 1"),
        ("opened", _week(f"{r}.opened_on", dialect, utc_time=False), "1 = 1"),
        ("resolved", _week(f"{r}.resolved_at", dialect, utc_time=True), f"{r}.resolved_at IS NOT NULL"),
    ]


def _upserts(r: str, sign: int, dialect: str) -> list[str]:
    m = _measures(r)
    cols = ", ".join(KEY + ROLLUP_COLUMNS)
    updates = ", ".join(f"{c} = case_rollup.{c} + excluded.{c}" for c in ROLLUP_COLUMNS)
    out = []
    for dim, bucket, cond in _buckets(r, dialect):
        values = ", ".join(f"{sign} * ({m[c]})" for c in ROLLUP_COLUMNS)
        out.append(
            f"INSERT INTO case_rollup ({cols}) SELECT '{dim}', {r}.restricted, {r}.unit_path, {bucket}, {values} "
            f"WHERE {cond} ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}"
        )
    return out


def create_triggers(dialect: str) -> list[str]:
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
    m = _measures("c")
    cols = ", ".join(KEY + ROLLUP_COLUMNS)
    out = ["DELETE FROM case_rollup"]
    for dim, bucket, cond in _buckets("c", dialect):
        sums = ", ".join(f"SUM({m[c]})" for c in ROLLUP_COLUMNS)
        out.append(
            f"INSERT INTO case_rollup ({cols}) SELECT '{dim}', c.restricted, c.unit_path, {bucket}, {sums} "
            f"FROM cases AS c WHERE {cond} GROUP BY 2, 3, 4"
        )
    return out
# --- end of the frozen copy ------------------------------------------------------------------------------


def upgrade() -> None:
    op.create_table(
        "case_rollup",
        sa.Column("dim", sa.String(16), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("unit_path", PATH, nullable=False),
        sa.Column("bucket", sa.String(32), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False, server_default=sa.text("0"))
          for c in ("n", "handling", "resolved", "failed", "timed", "on_time", "closed")],
        sa.Column("days_sum", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.Column("rated", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("sat_sum", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("dim", "restricted", "unit_path", "bucket", name=op.f("pk_case_rollup")),
    )
    # Overdue list and counts per unit: open cases by status, in a subtree, by deadline.
    op.create_index("ix_cases_dash_overdue", "cases", ["restricted", "status", "unit_path", "due_at"])
    bind = op.get_bind()
    dialect = bind.dialect.name
    for stmt in create_triggers(dialect):
        op.execute(stmt)
    for stmt in rebuild_statements(dialect):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in drop_triggers(op.get_bind().dialect.name):
        op.execute(stmt)
    op.drop_index("ix_cases_dash_overdue", table_name="cases")
    op.drop_table("case_rollup")
