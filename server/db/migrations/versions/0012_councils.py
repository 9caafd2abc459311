"""councils: residents' councils, members, topics and household support, meetings, agenda, views,
attendance, tablet codes, votes with unlinkable secret ballots (marks and ballots apart, WITHOUT ROWID on
SQLite), tasks with notes and photos (issue 14, docs/councils.md)

Revision ID: 0012_councils
Revises: 0011_ledger_v2_checkpoints
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012_councils"
down_revision = "0011_ledger_v2_checkpoints"
branch_labels = None
depends_on = None

TS = sa.DateTime()


def _fk(col: str, target: str, table: str, **kw: Any) -> sa.Column:
    ref_table = target.split(".")[0]
    return sa.Column(col, sa.Integer, sa.ForeignKey(target, name=f"fk_{table}_{col}_{ref_table}"), **kw)


def upgrade() -> None:
    op.create_table(
        "councils",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("unit_id", "units.id", "councils", nullable=False),
        sa.Column("neighbourhood", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("public_code", sa.String(16), nullable=False),
        sa.Column("support_threshold", sa.Integer, nullable=False),
        sa.Column("quorum", sa.Text, nullable=False),
        _fk("created_by", "staff.id", "councils"),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("public_code", name="uq_councils_public_code"),
    )
    op.create_index("ix_councils_unit_id", "councils", ["unit_id"])
    op.create_table(
        "council_members",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("council_id", "councils.id", "council_members", nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        _fk("staff_id", "staff.id", "council_members"),
        sa.Column("phone_key", sa.String(64)),
        sa.Column("affiliation", sa.String(100), nullable=False),
        sa.Column("term_start", sa.Date, nullable=False),
        sa.Column("term_end", sa.Date, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("left_at", TS),
    )
    op.create_index("ix_council_members_council_id", "council_members", ["council_id"])
    op.create_table(
        "council_topics",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("council_id", "councils.id", "council_topics", nullable=False),
        sa.Column("public_code", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("proposer_name", sa.String(100), nullable=False),
        _fk("proposer_staff_id", "staff.id", "council_topics"),
        sa.Column("case_id", sa.Integer),
        sa.Column("spawned_case_id", sa.Integer),
        sa.Column("merged_into", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("supports", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("public_code", name="uq_council_topics_public_code"),
    )
    op.create_index("ix_council_topics_council_id", "council_topics", ["council_id"])
    op.create_index("ix_council_topics_state", "council_topics", ["state"])
    op.create_table(
        "council_supports",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("topic_id", "council_topics.id", "council_supports", nullable=False),
        sa.Column("household_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("topic_id", "household_key", name="uq_council_supports_topic_household"),
    )
    op.create_index("ix_council_supports_topic_id", "council_supports", ["topic_id"])
    op.create_table(
        "council_comments",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("topic_id", "council_topics.id", "council_comments", nullable=False),
        sa.Column("author_name", sa.String(100), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_council_comments_topic_id", "council_comments", ["topic_id"])
    op.create_table(
        "council_meetings",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("council_id", "councils.id", "council_meetings", nullable=False),
        _fk("session_id", "sessions.id", "council_meetings"),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("scheduled_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("quorum", sa.Text, nullable=False),
        sa.Column("gallery_open", sa.Boolean, nullable=False),
        sa.Column("speaking_limit_s", sa.Integer, nullable=False),
        sa.Column("current_item_id", sa.Integer),
        sa.Column("minutes", sa.Text, nullable=False),
        sa.Column("opened_at", TS),
        sa.Column("closed_at", TS),
        sa.Column("published_at", TS),
        _fk("created_by", "staff.id", "council_meetings"),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_council_meetings_council_id", "council_meetings", ["council_id"])
    op.create_index("ix_council_meetings_state", "council_meetings", ["state"])
    op.create_table(
        "council_agenda_items",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("meeting_id", "council_meetings.id", "council_agenda_items", nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        _fk("topic_id", "council_topics.id", "council_agenda_items"),
    )
    op.create_index("ix_council_agenda_items_meeting_id", "council_agenda_items", ["meeting_id"])
    op.create_table(
        "council_views",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("item_id", "council_agenda_items.id", "council_views", nullable=False),
        _fk("member_id", "council_members.id", "council_views"),
        sa.Column("speaker", sa.String(100), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_council_views_item_id", "council_views", ["item_id"])
    op.create_table(
        "council_attendance",
        _fk("meeting_id", "council_meetings.id", "council_attendance", primary_key=True),
        _fk("member_id", "council_members.id", "council_attendance", primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("present", sa.Boolean, nullable=False),
        sa.Column("arrived_at", TS, nullable=False),
        sa.Column("left_at", TS),
    )
    op.create_table(
        "council_member_codes",
        _fk("meeting_id", "council_meetings.id", "council_member_codes", primary_key=True),
        _fk("member_id", "council_members.id", "council_member_codes", primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("invitation_id", sa.Integer),
    )
    op.create_table(
        "council_votes",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("meeting_id", "council_meetings.id", "council_votes", nullable=False),
        _fk("item_id", "council_agenda_items.id", "council_votes", nullable=False),
        sa.Column("question", sa.String(300), nullable=False),
        sa.Column("secret", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("window_s", sa.Integer, nullable=False),
        sa.Column("opens_at", TS),
        sa.Column("closes_at", TS),
        sa.Column("closed_at", TS),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("present", sa.Integer, nullable=False),
        sa.Column("result", sa.Text),
    )
    op.create_index("ix_council_votes_meeting_id", "council_votes", ["meeting_id"])
    op.create_index("ix_council_votes_item_id", "council_votes", ["item_id"])
    # Who has voted, and the ballots: no column in common but the vote, no time, storage not in arrival order.
    op.create_table(
        "council_vote_marks",
        _fk("vote_id", "council_votes.id", "council_vote_marks", primary_key=True),
        _fk("member_id", "council_members.id", "council_vote_marks", primary_key=True),
        sa.Column("choice", sa.String(8)),
        sa.Column("channel", sa.String(8), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "council_ballots",
        sa.Column("id", sa.String(32), primary_key=True),
        _fk("vote_id", "council_votes.id", "council_ballots", nullable=False),
        sa.Column("choice", sa.String(8), nullable=False),
        sa.Column("receipt_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("receipt_hash", name="uq_council_ballots_receipt_hash"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_council_ballots_vote_id", "council_ballots", ["vote_id"])
    op.create_table(
        "council_tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("council_id", "councils.id", "council_tasks", nullable=False),
        _fk("meeting_id", "council_meetings.id", "council_tasks"),
        _fk("vote_id", "council_votes.id", "council_tasks"),
        _fk("topic_id", "council_topics.id", "council_tasks"),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("owner_name", sa.String(100), nullable=False),
        _fk("owner_member_id", "council_members.id", "council_tasks"),
        _fk("owner_staff_id", "staff.id", "council_tasks"),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done_at", TS),
        sa.Column("done_note", sa.Text, nullable=False),
        sa.Column("reminded_at", TS),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_council_tasks_council_id", "council_tasks", ["council_id"])
    op.create_index("ix_council_tasks_deadline", "council_tasks", ["deadline"])
    op.create_index("ix_council_tasks_state", "council_tasks", ["state"])
    op.create_table(
        "council_task_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("task_id", "council_tasks.id", "council_task_notes", nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author_name", sa.String(100), nullable=False),
        _fk("author_staff_id", "staff.id", "council_task_notes"),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_council_task_notes_task_id", "council_task_notes", ["task_id"])
    op.create_table(
        "council_task_photos",
        sa.Column("id", sa.Integer, primary_key=True),
        _fk("task_id", "council_tasks.id", "council_task_photos", nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        _fk("uploaded_by", "staff.id", "council_task_photos"),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_council_task_photos_task_id", "council_task_photos", ["task_id"])


def downgrade() -> None:
    for t in ("council_task_photos", "council_task_notes", "council_tasks", "council_ballots", "council_vote_marks",
              "council_votes", "council_member_codes", "council_attendance", "council_views", "council_agenda_items",
              "council_meetings", "council_comments", "council_supports", "council_topics", "council_members",
              "councils"):
        op.drop_table(t)
