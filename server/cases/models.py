"""Case files (一案一档) and everything that hangs off them.

Dashboard-friendly on purpose: the owning unit's materialised path, its tier, the local date of
registration, the outcome, on-time flag, days to close and mean satisfaction live on the ``cases`` row,
so counts by category/grade/status per unit (rolled up over descendants with a path-prefix range),
overdue lists, weekly trends and the evaluation table are single indexed aggregates over one table.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, JSONType, UTCDateTime, utcnow

# Unit paths are compared byte-wise (prefix ranges), so PostgreSQL must not use a locale collation.
PathString = String(400).with_variant(String(400, collation="C"), "postgresql")


class CaseCounter(Base):
    """Next sequence number per county and year, for codes like 340321-2026-000123."""

    __tablename__ = "case_counters"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_unit_path_status", "unit_path", "status"),
        Index("ix_cases_status_due_at", "status", "due_at"),
        Index("ix_cases_opened_on", "opened_on"),
        Index("ix_cases_category_item", "category", "item"),
        Index("ix_cases_grade", "grade"),
        Index("ix_cases_unit_tier", "unit_tier"),
        Index("ix_cases_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="dispute")
    source: Mapped[str] = mapped_column(String(24))
    category: Mapped[str | None] = mapped_column(String(32))
    item: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(24), default="registered")
    # Current grade (green once resolved) and the last risk grade before that.
    grade: Mapped[str | None] = mapped_column(String(8))
    risk_grade: Mapped[str | None] = mapped_column(String(8))
    domestic_violence: Mapped[bool] = mapped_column(Boolean, default=False)
    # Restricted cases are visible only to named staff (enforced in every query).
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    unit_path: Mapped[str] = mapped_column(PathString)
    unit_tier: Mapped[str] = mapped_column(String(16))
    origin_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Local (Asia/Shanghai) calendar day of registration: weekly trends group on it.
    opened_on: Mapped[date] = mapped_column(Date)
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # resolved | failed | withdrawn | rejected, once handling ends.
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    days_to_close: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[float | None] = mapped_column(Float)
    # 0 none, 1 due-soon warned, 2 overdue warned (so the scheduler warns once per level).
    warn_level: Mapped[int] = mapped_column(Integer, default=0)
    # What a resident typed into the intake form (contact, preferred time, wants video).
    intake: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseParty(Base):
    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(1))
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(200))
    phone_confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    address_confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseAssignee(Base):
    __tablename__ = "case_assignees"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True, index=True)
    lead: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseAccess(Base):
    """Named staff of a restricted case, and time-boxed grants (experts, petition panels)."""

    __tablename__ = "case_access"
    __table_args__ = (Index("ix_case_access_staff_case", "staff_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # named | expert | panel
    kind: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseUnit(Base):
    """Units a case has passed through (origin, previous owners): they keep read access."""

    __tablename__ = "case_units"
    __table_args__ = (UniqueConstraint("case_id", "unit_id", name="uq_case_units_case_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    unit_path: Mapped[str] = mapped_column(PathString, index=True)
    relation: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseTransfer(Base):
    """Every move between units: dispatch down, escalate up, transfer sideways, triage routing."""

    __tablename__ = "case_transfers"
    __table_args__ = (Index("ix_case_transfers_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    to_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseDocument(Base):
    __tablename__ = "case_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="evidence")
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Relative to the data directory.
    path: Mapped[str] = mapped_column(String(400))
    description: Mapped[str] = mapped_column(String(500), default="")
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SupervisionOrder(Base):
    """督办: a higher tier orders the owning unit to act by a deadline and to answer."""

    __tablename__ = "supervision_orders"
    __table_args__ = (Index("ix_supervision_orders_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    issuer_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    issuer_unit_path: Mapped[str] = mapped_column(PathString, index=True)
    target_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    issued_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    instruction: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # open | responded
    status: Mapped[str] = mapped_column(String(16), default="open")
    response: Mapped[str | None] = mapped_column(Text)
    responded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_warned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """One entry in a staff member's in-app notification centre."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_staff_read", "staff_id", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    link: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notice(Base):
    """通报: a circulated notice from a unit to its whole subtree (commendation, criticism, bulletin)."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    unit_path: Mapped[str] = mapped_column(PathString, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Consultation(Base):
    """远程指导: a handler asks for an expert by specialty; the accepting expert gets a timed grant."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    specialty: Mapped[str] = mapped_column(String(32), index=True)
    question: Mapped[str] = mapped_column(Text)
    # A named expert, or any expert with the specialty at or above the owning unit.
    target_expert_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # requested | accepted | declined | completed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="requested", index=True)
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    grant_hours: Mapped[int] = mapped_column(Integer, default=72)
    grant_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_id: Mapped[int | None] = mapped_column(Integer)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opinion: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Petition(Base):
    """视频信访: the petition details of a petition case, its hearing, outcome and reply deadline."""

    __tablename__ = "petitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    petitioners: Mapped[int] = mapped_column(Integer, default=1)
    subject: Mapped[str] = mapped_column(Text)
    # registered | hearing_scheduled | heard | replied
    status: Mapped[str] = mapped_column(String(24), default="registered")
    hearing_session_id: Mapped[int | None] = mapped_column(Integer)
    hearing_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    panel: Mapped[list[int]] = mapped_column(JSONType, default=list)
    outcome: Mapped[str | None] = mapped_column(Text)
    reply_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_warned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseObligation(Base):
    """One term of an agreement as an obligation to perform (filled by the agreements module or by hand)."""

    __tablename__ = "case_obligations"
    __table_args__ = (Index("ix_case_obligations_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agreement_id: Mapped[int | None] = mapped_column(Integer, index=True)
    seq: Mapped[int] = mapped_column(Integer, default=1)
    obligor: Mapped[str] = mapped_column(String(100))
    obligee: Mapped[str] = mapped_column(String(100), default="")
    content: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # pending | performed | partial | not_performed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    last_followup_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FollowUp(Base):
    """回访: how the agreement is performed, how satisfied the parties are, the risk of recurrence."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    method: Mapped[str] = mapped_column(String(16))
    satisfaction: Mapped[int] = mapped_column(Integer)
    recurrence_risk: Mapped[str] = mapped_column(String(8))
    notes: Mapped[str] = mapped_column(Text, default="")
    # [{"obligation_id", "status", "note"}]
    performance: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DVResponse(Base):
    """Staged responses in a domestic-violence case: warning letter (告诫书), summons, detention."""

    __tablename__ = "dv_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    authority: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str] = mapped_column(String(64), default="")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
