"""Persisting ledger events. Appends are serialised per chain, so two nodes never fork one chain.

Every event also gets a row in ``ledger_leaves``, in the transaction that appends it: the event's place in
the one Merkle tree over all chains (server/merkle.py, docs/ledger.md "Checkpoints"). The row is written
without a tree index; ``integrate`` gives pending leaves the next indices, in event order, under one
global lock. Indices are not assigned in the appending transaction because appends to different chains
run in parallel on PostgreSQL: numbering them there would either serialise every ledger writer of the
network behind one lock or let a later index commit before an earlier one (a tree that changes under a
signed head). This is Certificate Transparency's "merge" step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String, UniqueConstraint, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from server import ledger, merkle
from server.db.base import Base, JSONType, UTCDateTime, utcnow
from server.db.engine import dialect_name

# pg_advisory_xact_lock key of the tree's integrator (distinct from the per-chain keys, which are hashes).
TREE_LOCK = 7242012


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
    v: Mapped[int] = mapped_column(SmallInteger, server_default="1")  # rows before ledger v2 are v1

    def to_event(self) -> ledger.Event:
        return ledger.Event(self.chain, self.seq, self.type, self.at, self.data, self.prev_hash, self.hash, self.v)


class LedgerLeaf(Base):
    """One event's leaf in the Merkle tree. No foreign key: a deleted event must leave its leaf behind
    for verification to name (docs/ledger.md)."""

    __tablename__ = "ledger_leaves"
    __table_args__ = (
        UniqueConstraint("event_id", name="uq_ledger_leaves_event_id"),
        UniqueConstraint("leaf_index", name="uq_ledger_leaves_leaf_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer)
    chain: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    event_hash: Mapped[str] = mapped_column(String(64))
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None until integrated


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
    row = LedgerEvent(chain=ev.chain, seq=ev.seq, type=ev.type, at=ev.at, data=ev.data, prev_hash=ev.prev_hash,
                      hash=ev.hash, v=ev.v)
    s.add(row)
    await s.flush()
    # Flushed with the next statement or the commit: one more INSERT per append, no lock.
    s.add(LedgerLeaf(event_id=row.id, chain=ev.chain, seq=ev.seq, event_hash=ev.hash))
    return ev


async def events(s: AsyncSession, chain: str, after_seq: int = 0, limit: int | None = None) -> list[ledger.Event]:
    """A chain's events in storage order (by row id), so reordering shows up in verification."""
    q = select(LedgerEvent).where(LedgerEvent.chain == chain, LedgerEvent.seq > after_seq).order_by(LedgerEvent.id)
    if limit:
        q = q.limit(limit)
    return [r.to_event() for r in (await s.execute(q)).scalars()]


async def verify_chain(s: AsyncSession, chain: str) -> ledger.Verification:
    return ledger.verify(await events(s, chain), chain)


# ---- the Merkle tree over every chain ----------------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    index: int
    event_id: int
    chain: str
    seq: int
    event_hash: str

    def hash(self) -> bytes:
        return merkle.leaf_hash(bytes.fromhex(self.event_hash))


async def integrate(s: AsyncSession) -> int:
    """Give every pending leaf the next tree index, in event (row id) order; returns the tree size.

    One integrator at a time (a global advisory lock on PostgreSQL; BEGIN IMMEDIATE on SQLite). A leaf
    whose append commits after this runs is integrated next time, after the leaves already numbered."""
    await s.flush()  # this transaction's own new leaves are pending too
    if dialect_name(s) == "postgresql":
        await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": TREE_LOCK})
    top = (await s.execute(select(func.max(LedgerLeaf.leaf_index)))).scalar_one_or_none()
    base = 0 if top is None else int(top) + 1
    # One statement, whatever the backlog (the first checkpoint after the upgrade numbers every old event).
    await s.execute(text(
        "UPDATE ledger_leaves SET leaf_index = n.idx FROM (SELECT id, :base - 1 + ROW_NUMBER() OVER "
        "(ORDER BY event_id) AS idx FROM ledger_leaves WHERE leaf_index IS NULL) AS n "
        "WHERE ledger_leaves.id = n.id"), {"base": base})
    top = (await s.execute(select(func.max(LedgerLeaf.leaf_index)))).scalar_one_or_none()
    return 0 if top is None else int(top) + 1


async def leaves(s: AsyncSession, start: int = 0, end: int | None = None) -> list[Leaf]:
    """The tree's leaves from index ``start`` on (before ``end``), in index order (as stored: verification
    checks that they are dense and match their events)."""
    q = select(LedgerLeaf.leaf_index, LedgerLeaf.event_id, LedgerLeaf.chain, LedgerLeaf.seq,
               LedgerLeaf.event_hash).where(LedgerLeaf.leaf_index >= start)
    if end is not None:
        q = q.where(LedgerLeaf.leaf_index < end)
    rows = await s.execute(q.order_by(LedgerLeaf.leaf_index))
    return [Leaf(int(i or 0), e, c, q, h) for i, e, c, q, h in rows]  # the query has only indexed leaves


async def leaf_of(s: AsyncSession, chain: str, seq: int) -> Leaf | None:
    row = (await s.execute(select(LedgerLeaf).where(LedgerLeaf.chain == chain, LedgerLeaf.seq == seq,
                                                    LedgerLeaf.leaf_index.is_not(None))
                           .order_by(LedgerLeaf.event_id.desc()).limit(1)
                           .execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None or row.leaf_index is None:
        return None
    return Leaf(int(row.leaf_index), row.event_id, row.chain, row.seq, row.event_hash)


async def event_hashes(s: AsyncSession) -> dict[int, tuple[str, int, str]]:
    """Every stored event: row id -> (chain, seq, hash)."""
    rows = await s.execute(select(LedgerEvent.id, LedgerEvent.chain, LedgerEvent.seq, LedgerEvent.hash))
    return {i: (c, q, h) for i, c, q, h in rows}
