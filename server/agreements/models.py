"""Agreement tables. Cross-module references (case, session, invitation) are plain indexed integers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, JSONType, UTCDateTime, utcnow


class Agreement(Base):
    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    session_id: Mapped[int | None] = mapped_column(Integer, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    dispute_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    amends_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the agreement this one amends
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(Text)  # why withdrawn or voided
    row_version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic locking


class AgreementVersion(Base):
    __tablename__ = "agreement_versions"
    __table_args__ = (UniqueConstraint("agreement_id", "number", name="uq_agreement_versions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    text: Mapped[str] = mapped_column(Text)
    document_hash: Mapped[str] = mapped_column(String(64))
    # Format 2: the salt of each committed field ("p2.address" → hex). Never exported: with the stored
    # content it proves what the hash commits to. None: a format-1 version (hashed in full).
    salts: Mapped[dict[str, str] | None] = mapped_column(JSONType, nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AgreementSignature(Base):
    __tablename__ = "agreement_signatures"
    __table_args__ = (
        # The database refuses a second signature by the same signer, or two records in one place.
        UniqueConstraint("agreement_id", "version", "slot", name="uq_agreement_signatures_slot"),
        UniqueConstraint("agreement_id", "version", "seq", name="uq_agreement_signatures_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    slot: Mapped[str] = mapped_column(String(40))
    record: Mapped[dict[str, Any]] = mapped_column(JSONType)
    signature: Mapped[str] = mapped_column(String(200))
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Format-2 records sign commitments to the IP address and user agent; their values and salts are
    # kept here ({"ip": {"value", "salt"}, "user_agent": {...}}), for the staff copy and the archive.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgreementComment(Base):
    __tablename__ = "agreement_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    clause: Mapped[str] = mapped_column(String(32))
    author_name: Mapped[str] = mapped_column(String(100))
    author_role: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    invitation_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgreementPerformance(Base):
    """One update on an obligation's performance, with its proof (newest row per obligation counts)."""

    __tablename__ = "agreement_performance"
    __table_args__ = (Index("ix_agreement_performance_obligation", "agreement_id", "obligation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    obligation: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    proof_sha256: Mapped[str | None] = mapped_column(String(64))
    proof_name: Mapped[str | None] = mapped_column(String(200))
    proof_type: Mapped[str | None] = mapped_column(String(64))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
