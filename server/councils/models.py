"""Council tables (docs/councils.md "Model").

Secret ballots: ``council_vote_marks`` says who has voted (vote, member) and ``council_ballots`` holds the
ballots (vote, choice, receipt hash) with no member, no time and a random key. Both tables are WITHOUT ROWID
on SQLite, so their storage order is their key's order (member id; random ballot id), not the order ballots
came in; on PostgreSQL a vote's ballots are rewritten in shuffled order when it closes (``service.close_vote``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, JSONType, UTCDateTime


class Council(Base):
    __tablename__ = "councils"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # A neighbourhood (小区) under the unit; empty: the council of the whole community or village.
    neighbourhood: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str] = mapped_column(String(200))
    # Random, for the public pages (/councils/p/<code>): ids are not enumerable from outside.
    public_code: Mapped[str] = mapped_column(String(16), unique=True)
    support_threshold: Mapped[int] = mapped_column(Integer, default=10)
    quorum: Mapped[dict] = mapped_column(JSONType)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CouncilMember(Base):
    __tablename__ = "council_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    # A staff account (a convenor from the community office), or none for residents and guests.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # A resident's mobile as an HMAC (rules.household_key, scope "council:<id>"): never the number itself.
    phone_key: Mapped[str | None] = mapped_column(String(64))
    affiliation: Mapped[str] = mapped_column(String(100), default="")  # 物业公司名称, 律师事务所 …
    term_start: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Topic(Base):
    __tablename__ = "council_topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id"), index=True)
    # The proposer's status page (/councils/t/<code>), like an intake receipt.
    public_code: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), index=True)
    # resident (public page), member, staff or case.
    source: Mapped[str] = mapped_column(String(16))
    proposer_name: Mapped[str] = mapped_column(String(100))
    proposer_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    case_id: Mapped[int | None] = mapped_column(Integer)  # the case that raised it
    spawned_case_id: Mapped[int | None] = mapped_column(Integer)  # the case it spawned
    merged_into: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")  # why declined (shown to the proposer)
    supports: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Support(Base):
    """One household's signature: only an HMAC of the phone (scope ``topic:<id>``), never the number."""

    __tablename__ = "council_supports"
    __table_args__ = (UniqueConstraint("topic_id", "household_key", name="uq_council_supports_topic_household"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("council_topics.id"), index=True)
    household_key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100), default="")  # shown masked (张*)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Comment(Base):
    __tablename__ = "council_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("council_topics.id"), index=True)
    author_name: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Meeting(Base):
    __tablename__ = "council_meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))  # the live room (kind council)
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), index=True)
    quorum: Mapped[dict] = mapped_column(JSONType)
    gallery_open: Mapped[bool] = mapped_column(Boolean, default=False)
    speaking_limit_s: Mapped[int] = mapped_column(Integer, default=180)
    current_item_id: Mapped[int | None] = mapped_column(Integer)
    minutes: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgendaItem(Base):
    __tablename__ = "council_agenda_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("council_meetings.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("council_topics.id"))


class View(Base):
    """A view recorded on an agenda item (发言要点)."""

    __tablename__ = "council_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("council_agenda_items.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("council_members.id"))
    speaker: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Attendance(Base):
    __tablename__ = "council_attendance"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("council_meetings.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("council_members.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # in_person | online
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberCode(Base):
    """A member's 6-digit code for the shared tablet at the table, per meeting (only its HMAC)."""

    __tablename__ = "council_member_codes"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("council_meetings.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("council_members.id"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    # The member's room invitation for this meeting (its peer identity is ``inv:<nonce>``).
    invitation_id: Mapped[int | None] = mapped_column(Integer)


class Vote(Base):
    __tablename__ = "council_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("council_meetings.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("council_agenda_items.id"), index=True)
    question: Mapped[str] = mapped_column(String(300))
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16))
    window_s: Mapped[int] = mapped_column(Integer, default=300)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    members: Mapped[int] = mapped_column(Integer, default=0)  # voting members on the day
    present: Mapped[int] = mapped_column(Integer, default=0)  # of them present when it opened
    result: Mapped[dict | None] = mapped_column(JSONType)  # rules.Result.as_dict() once closed


class VoteMark(Base):
    """Who has voted. Open votes also keep the choice here (open votes show who voted what); secret votes
    never do. No time column; WITHOUT ROWID on SQLite (stored in member order)."""

    __tablename__ = "council_vote_marks"
    __table_args__ = {"sqlite_with_rowid": False}

    vote_id: Mapped[int] = mapped_column(ForeignKey("council_votes.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("council_members.id"), primary_key=True)
    choice: Mapped[str | None] = mapped_column(String(8))  # open votes only
    channel: Mapped[str] = mapped_column(String(8))  # room | tablet | http


class Ballot(Base):
    """A ballot: the vote, the choice, H(receipt). No member, no time; a random key (rules.new_ballot_id)."""

    __tablename__ = "council_ballots"
    __table_args__ = {"sqlite_with_rowid": False}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("council_votes.id"), index=True)
    choice: Mapped[str] = mapped_column(String(8))
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Task(Base):
    __tablename__ = "council_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("council_meetings.id"))
    vote_id: Mapped[int | None] = mapped_column(ForeignKey("council_votes.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("council_topics.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_name: Mapped[str] = mapped_column(String(100))
    owner_member_id: Mapped[int | None] = mapped_column(ForeignKey("council_members.id"))
    owner_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    deadline: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_note: Mapped[str] = mapped_column(Text, default="")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TaskNote(Base):
    """Progress, an overdue reminder, or supervision (督办) by the tier above."""

    __tablename__ = "council_task_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("council_tasks.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # progress | reminder | supervision
    author_name: Mapped[str] = mapped_column(String(100))
    author_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TaskPhoto(Base):
    """A photo proving completion, stored under ``<data dir>/councils/<council>/<sha256>.<ext>``."""

    __tablename__ = "council_task_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("council_tasks.id"), index=True)
    path: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
