"""agreements: versions, signatures, comments, performance

Revision ID: 0005_agreements
Revises: 0002_sessions
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_agreements"
down_revision = "0002_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(64), nullable=False, unique=True),
        sa.Column("case_id", sa.Integer, index=True),
        sa.Column("session_id", sa.Integer, index=True),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id"), nullable=False, index=True),
        sa.Column("dispute_type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("amends_id", sa.Integer, index=True),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("staff.id")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("frozen_at", sa.DateTime),
        sa.Column("effective_at", sa.DateTime),
        sa.Column("closed_reason", sa.Text),
        sa.Column("row_version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_table(
        "agreement_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agreement_id", sa.Integer, sa.ForeignKey("agreements.id"), nullable=False, index=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("document_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("staff.id")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("frozen_at", sa.DateTime),
        sa.UniqueConstraint("agreement_id", "number", name="uq_agreement_versions_number"),
    )
    op.create_table(
        "agreement_signatures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agreement_id", sa.Integer, sa.ForeignKey("agreements.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("slot", sa.String(40), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("image", sa.LargeBinary),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("agreement_id", "version", "slot", name="uq_agreement_signatures_slot"),
        sa.UniqueConstraint("agreement_id", "version", "seq", name="uq_agreement_signatures_seq"),
    )
    op.create_table(
        "agreement_comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agreement_id", sa.Integer, sa.ForeignKey("agreements.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("clause", sa.String(32), nullable=False),
        sa.Column("author_name", sa.String(100), nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("staff_id", sa.Integer, sa.ForeignKey("staff.id")),
        sa.Column("invitation_id", sa.Integer),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "agreement_performance",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agreement_id", sa.Integer, sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("obligation", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("proof_sha256", sa.String(64)),
        sa.Column("proof_name", sa.String(200)),
        sa.Column("proof_type", sa.String(64)),
        sa.Column("staff_id", sa.Integer, sa.ForeignKey("staff.id")),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Index("ix_agreement_performance_obligation", "agreement_id", "obligation"),
    )


def downgrade() -> None:
    for t in ("agreement_performance", "agreement_comments", "agreement_signatures", "agreement_versions",
              "agreements"):
        op.drop_table(t)
