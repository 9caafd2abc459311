"""agreements: salts of committed contact fields, and signature evidence kept beside its commitment

Revision ID: 0006_agreement_commitments
Revises: 0005_agreements
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_agreement_commitments"
down_revision = "0005_agreements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agreement_versions", sa.Column("salts", sa.Text, nullable=True))
    op.add_column("agreement_signatures", sa.Column("evidence", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agreement_signatures") as batch:
        batch.drop_column("evidence")
    with op.batch_alter_table("agreement_versions") as batch:
        batch.drop_column("salts")
