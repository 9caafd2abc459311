"""staff: sign-out instant, so that logging out revokes the account's tokens on every node

Revision ID: 0010_sign_out
Revises: 0009_dashboard_trend_index
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_sign_out"
down_revision = "0009_dashboard_trend_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff", sa.Column("signed_out_ms", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("signed_out_ms")
