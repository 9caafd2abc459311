"""Tables for recordings (segments, per-track files, composites), recording runs, minutes and jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base, JSONType, UTCDateTime, utcnow

# Artefact types, each with its own retention period (server/recording/retention.py).
SEGMENT, TRACK, COMPOSITE = "segment", "track", "composite"
ARTEFACTS = (SEGMENT, TRACK, COMPOSITE)
# writing: open on some node; closed: finished and hashed; failed: I/O error, no file kept;
# recovered: salvaged after a crash (hashed then); discarded: nothing salvageable after a crash;
# deleted: removed by retention (the hash stays).
STATUSES = ("writing", "closed", "failed", "recovered", "discarded", "deleted")


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        UniqueConstraint("session_id", "artefact", "track_no", "segment_index", name="uq_recordings_segment"),
        Index("ix_recordings_status_node", "status", "node"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    artefact: Mapped[str] = mapped_column(String(16), default=SEGMENT)
    peer: Mapped[str | None] = mapped_column(String(64))
    peer_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # audio | video | av (composite)
    codec: Mapped[str | None] = mapped_column(String(32))
    track_no: Mapped[int] = mapped_column(Integer, default=0)
    track_id: Mapped[str | None] = mapped_column(String(100))
    segment_index: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(String(300))  # relative to the recordings directory
    sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(Float)
    start_offset_s: Mapped[float | None] = mapped_column(Float)
    frames: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="writing")
    error: Mapped[str | None] = mapped_column(Text)
    node: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecordingRun(Base):
    """One period of recording being on, on one node: how a crash is recognised on restart."""

    __tablename__ = "recording_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    node: Mapped[str] = mapped_column(String(100), index=True)
    subrooms: Mapped[list] = mapped_column(JSONType, default=list, nullable=True)  # as migrated
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="on")  # on | ended | interrupted


class MinutesVersion(Base):
    """笔录: every save is a new version; the highest version is the current text."""

    __tablename__ = "minutes_versions"
    __table_args__ = (UniqueConstraint("session_id", "version", name="uq_minutes_versions_session_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    author_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlaybackJob(Base):
    """Composing the playback file after a session, off the live path."""

    __tablename__ = "playback_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    recording_id: Mapped[int | None] = mapped_column(Integer)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
