"""recordings, recording runs, minutes versions, playback jobs

Revision ID: 0003_recording
Revises: 0002_sessions
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_recording"
down_revision = "0002_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False, index=True),
        sa.Column("artefact", sa.String(16), nullable=False),
        sa.Column("peer", sa.String(64)),
        sa.Column("peer_name", sa.String(100)),
        sa.Column("role", sa.String(16)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("codec", sa.String(32)),
        sa.Column("track_no", sa.Integer, nullable=False),
        sa.Column("track_id", sa.String(100)),
        sa.Column("segment_index", sa.Integer, nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("bytes", sa.BigInteger),
        sa.Column("duration_s", sa.Float),
        sa.Column("start_offset_s", sa.Float),
        sa.Column("frames", sa.Integer),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("started_at", sa.DateTime),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("node", sa.String(100)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("deleted_at", sa.DateTime),
        sa.UniqueConstraint("session_id", "artefact", "track_no", "segment_index", name="uq_recordings_segment"),
    )
    op.create_index("ix_recordings_status_node", "recordings", ["status", "node"])
    op.create_table(
        "recording_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False, index=True),
        sa.Column("node", sa.String(100), nullable=False, index=True),
        sa.Column("subrooms", sa.Text),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "minutes_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("staff.id")),
        sa.Column("author_name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("session_id", "version", name="uq_minutes_versions_session_version"),
    )
    op.create_table(
        "playback_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("recording_id", sa.Integer),
        sa.Column("requested_by", sa.Integer, sa.ForeignKey("staff.id")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
    )


def downgrade() -> None:
    op.drop_table("playback_jobs")
    op.drop_table("minutes_versions")
    op.drop_table("recording_runs")
    op.drop_index("ix_recordings_status_node", "recordings")
    op.drop_table("recordings")
