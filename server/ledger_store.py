"""Persisting ledger events. Appends are serialised per chain, so two nodes never fork one chain."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from server import ledger
from server.db.base import Base, JSONType, UTCDateTime, utcnow
from server.db.engine import dialect_name


class LedgerEvent(Base):
    __tablename__ = "ledger_events"
    __table_args__ = (
        UniqueConstraint("chain", "seq", name="uq_ledger_events_chain_seq"),
        Index("ix_ledger_events_type_at", "type", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[Any] = mapped_column(JSONType, nullable=True)  # as migrated; null is hashed as null
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def to_event(self) -> ledger.Event:
        return ledger.Event(self.chain, self.seq, self.type, self.at, self.data, self.prev_hash, self.hash)


def _lock_key(chain: str) -> int:
    return int.from_bytes(hashlib.sha256(chain.encode()).digest()[:8], "big", signed=True)


async def lock_chain(s: AsyncSession, chain: str) -> None:
    """Serialise writers of ``chain`` until the transaction ends (a no-op on SQLite: BEGIN IMMEDIATE
    already serialises every write transaction). Take it before reading state that the event records."""
    if dialect_name(s) == "postgresql":
        await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(chain)})


async def append(
    s: AsyncSession, chain: str, type: str, data: Any, at: datetime | None = None
) -> ledger.Event:
    """Append inside the caller's transaction, so the event commits with the change it records.

    PostgreSQL: a transaction-scoped advisory lock per chain serialises appenders across nodes.
    SQLite: every write transaction starts with BEGIN IMMEDIATE, which serialises them already.
    The unique (chain, seq) constraint is the backstop either way.
    """
    await lock_chain(s, chain)
    last = (
        await s.execute(
            select(LedgerEvent).where(LedgerEvent.chain == chain).order_by(LedgerEvent.seq.desc()).limit(1)
        )
    ).scalar_one_or_none()
    ev = ledger.make_event(chain, last.to_event() if last else None, type, data, at or utcnow())
    s.add(
        LedgerEvent(
            chain=ev.chain, seq=ev.seq, type=ev.type, at=ev.at, data=ev.data, prev_hash=ev.prev_hash, hash=ev.hash
        )
    )
    await s.flush()
    return ev


async def events(s: AsyncSession, chain: str, after_seq: int = 0, limit: int | None = None) -> list[ledger.Event]:
    """A chain's events in storage order (by row id), so reordering shows up in verification."""
    q = select(LedgerEvent).where(LedgerEvent.chain == chain, LedgerEvent.seq > after_seq).order_by(LedgerEvent.id)
    if limit:
        q = q.limit(limit)
    return [r.to_event() for r in (await s.execute(q)).scalars()]


async def verify_chain(s: AsyncSession, chain: str) -> ledger.Verification:
    return ledger.verify(await events(s, chain), chain)
