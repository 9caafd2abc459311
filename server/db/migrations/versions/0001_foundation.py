"""foundation: units, staff, ledger

Revision ID: 0001_foundation
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False, index=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("units.id"), index=True),
        sa.Column("path", sa.String(400), nullable=False, index=True),
        sa.Column("address", sa.String(200)),
        sa.Column("phone", sa.String(40)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False, index=True),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False, index=True),
        sa.Column("specialties", sa.Text),
        sa.Column("phone", sa.String(40)),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "ledger_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("chain", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("data", sa.Text),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("chain", "seq", name="uq_ledger_events_chain_seq"),
    )
    op.create_index("ix_ledger_events_type_at", "ledger_events", ["type", "at"])


def downgrade() -> None:
    op.drop_table("ledger_events")
    op.drop_table("staff")
    op.drop_table("units")
