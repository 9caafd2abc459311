"""dashboard: case_rollup (pre-aggregated per unit, kept by triggers on cases) and the overdue index

Revision ID: 0008_dashboard
Revises: 0004_cases
"""
import sqlalchemy as sa
from alembic import op

from server.dashboard import rollup_sql

revision = "0008_dashboard"
down_revision = "0004_cases"
branch_labels = None
depends_on = None

PATH = sa.String(length=400).with_variant(sa.String(length=400, collation="C"), "postgresql")


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
    for stmt in rollup_sql.create_triggers(dialect):
        op.execute(stmt)
    for stmt in rollup_sql.rebuild_statements(dialect):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in rollup_sql.drop_triggers(op.get_bind().dialect.name):
        op.execute(stmt)
    op.drop_index("ix_cases_dash_overdue", table_name="cases")
    op.drop_table("case_rollup")
