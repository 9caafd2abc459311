"""ledger v2: a version per event, the Merkle tree's leaves, and signed checkpoints

Existing events are v1 (their hashes use the v1 canonical form). Every existing event gets a leaf row
without a tree index; the application's integrator numbers them in event order.

Revision ID: 0011_ledger_v2_checkpoints
Revises: 0010_sign_out
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_ledger_v2_checkpoints"
down_revision = "0010_sign_out"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger_events", sa.Column("v", sa.SmallInteger, nullable=False, server_default="1"))
    op.create_table(
        "ledger_leaves",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("chain", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("event_hash", sa.String(64), nullable=False),
        sa.Column("leaf_index", sa.BigInteger),
        sa.UniqueConstraint("event_id", name="uq_ledger_leaves_event_id"),
        sa.UniqueConstraint("leaf_index", name="uq_ledger_leaves_leaf_index"),
    )
    op.execute("INSERT INTO ledger_leaves (event_id, chain, seq, event_hash) "
               "SELECT id, chain, seq, hash FROM ledger_events ORDER BY id")
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("frontier", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_leaves")
    with op.batch_alter_table("ledger_events") as batch:
        batch.drop_column("v")
