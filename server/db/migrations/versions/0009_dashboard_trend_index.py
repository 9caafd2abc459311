"""dashboard: covering indexes for the weekly trend and the overdue list

Revision ID: 0009_dashboard_trend_index
Revises: 0008_dashboard
"""
from alembic import op

revision = "0009_dashboard_trend_index"
down_revision = "0008_dashboard"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Weeks since a date, every unit: the primary key (dim, restricted, unit_path, bucket) would read every
    # week of every unit; this reads only the recent weeks and answers from the index alone.
    op.create_index("ix_case_rollup_time", "case_rollup", ["dim", "restricted", "bucket", "unit_path", "n"])
    # The overdue list picks its 50 earliest deadlines from the index alone when the index ends in the id.
    op.drop_index("ix_cases_dash_overdue", table_name="cases")
    op.create_index("ix_cases_dash_overdue", "cases", ["restricted", "status", "unit_path", "due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_dash_overdue", table_name="cases")
    op.create_index("ix_cases_dash_overdue", "cases", ["restricted", "status", "unit_path", "due_at"])
    op.drop_index("ix_case_rollup_time", table_name="case_rollup")
