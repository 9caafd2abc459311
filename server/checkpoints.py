"""Signed checkpoints of the ledger's Merkle tree (docs/ledger.md "Checkpoints").

A checkpoint is a signed tree head: the tree's size, its root and a time, signed with the city's ledger
key (Ed25519, kept encrypted under ``DATA_DIR/ledger_keys`` like the units' seal keys). Kept in
``ledger_checkpoints`` and, exported, outside the database: given one, ``check_log`` finds every way the
database can have lost or changed what the checkpoint covers (rows deleted, newest rows rolled back,
events edited, leaves renumbered).

Signed at intervals (by the server, server/checkpoint_watch.py, and ``concord checkpoint sign``, e.g.
from cron) and when an agreement takes effect (``sign_checkpoint`` is called in that transaction,
server/agreements/api.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from server import ledger, ledger_store, merkle
from server.agreements.keys import Keyring
from server.db.base import Base
from server.treehead import KEY_NAME, SignedTreeHead, sign_head

KEY_DIR = "ledger_keys"


class LedgerCheckpoint(Base):
    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(200))
    # The tree's compact range at this size (JSON [[size, hex], ...]): the next head only hashes new leaves.
    frontier: Mapped[str | None] = mapped_column(Text, nullable=True)

    def head(self) -> SignedTreeHead:
        return SignedTreeHead(self.tree_size, self.root, self.timestamp_ms, self.key_id, self.public_key,
                              self.signature)


def ledger_keyring(data_dir: Path, secret: bytes) -> Keyring:
    return Keyring(Path(data_dir) / KEY_DIR, secret)


def city_key_ids(ring: Keyring) -> set[str] | None:
    """Key ids of the city's ledger key, the one a checkpoint must be signed with; None before the first."""
    return {k.key_id for k in ring.public_keys(KEY_NAME)} or None


# ---- persistence ----------------------------------------------------------------------------------------

def _frontier_of(row: LedgerCheckpoint | None) -> list[tuple[int, bytes]] | None:
    """The previous checkpoint's frontier, if it is intact: its sizes add up to the signed size, it folds
    to the signed root, and the signature holds. Otherwise None (the head is recomputed from every leaf)."""
    if row is None or not row.frontier:
        return None
    try:
        fr = [(int(n), bytes.fromhex(h)) for n, h in json.loads(row.frontier)]
    except (ValueError, TypeError):
        return None
    if sum(n for n, _ in fr) != row.tree_size or merkle.frontier_root(fr).hex() != row.root:
        return None
    return fr if row.head().signature_ok() else None


async def tree_frontier(s: AsyncSession) -> list[tuple[int, bytes]]:
    """Integrate pending leaves, then the whole tree's frontier: the last checkpoint's, extended with the
    leaves after it (or, without a usable one, computed from every leaf)."""
    await ledger_store.integrate(s)
    prev = (await s.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1))
            ).scalar_one_or_none()
    fr = _frontier_of(prev)
    if fr is not None and prev is not None:
        new = await ledger_store.leaves(s, prev.tree_size)
        if all(x.index == prev.tree_size + i for i, x in enumerate(new)):
            return merkle.extend(fr, [x.hash() for x in new])
    return merkle.extend([], [x.hash() for x in await ledger_store.leaves(s)])


async def sign_checkpoint(s: AsyncSession, keyring: Keyring, reason: str,
                          now: datetime | None = None) -> SignedTreeHead:
    """Sign the current tree head with the city's ledger key and keep it (in the caller's transaction)."""
    fr = await tree_frontier(s)
    key_id, key = keyring.signing_key(KEY_NAME)
    size = sum(n for n, _ in fr)
    sth = sign_head(size, merkle.frontier_root(fr).hex(), ledger.epoch_ms(now or datetime.now(UTC)), key_id, key)
    s.add(LedgerCheckpoint(tree_size=sth.size, root=sth.root, timestamp_ms=sth.timestamp_ms, key_id=sth.key_id,
                           public_key=sth.public_key, signature=sth.signature, reason=reason[:200],
                           frontier=json.dumps([[n, h.hex()] for n, h in fr])))
    await s.flush()
    return sth


async def sign_if_due(s: AsyncSession, keyring: Keyring, interval_ms: int,
                      now: datetime | None = None) -> SignedTreeHead | None:
    """Sign a checkpoint when the tree has grown and the last one is ``interval_ms`` old (or there is none).
    Several nodes may call this at once: the integrator's lock makes the second see the first's head."""
    now = now or datetime.now(UTC)
    size = await ledger_store.integrate(s)
    last = (await s.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1))
            ).scalar_one_or_none()
    if size == 0 or (last is not None and (last.tree_size >= size
                                           or ledger.epoch_ms(now) - last.timestamp_ms < interval_ms)):
        return None
    return await sign_checkpoint(s, keyring, "interval", now)


async def latest(s: AsyncSession) -> SignedTreeHead | None:
    row = (await s.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1))
           ).scalar_one_or_none()
    return row.head() if row else None


@dataclass
class InclusionProof:
    """An event's place in a signed tree: verify with merkle.verify_inclusion(leaf hash, index, size,
    path, root) and the checkpoint's signature."""

    chain: str
    seq: int
    event_hash: str
    index: int
    path: list[str]
    checkpoint: SignedTreeHead

    def as_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "seq": self.seq, "event_hash": self.event_hash, "leaf_index": self.index,
                "path": self.path, "checkpoint": self.checkpoint.as_dict()}

    def ok(self) -> bool:
        leaf = merkle.leaf_hash(bytes.fromhex(self.event_hash))
        return self.checkpoint.signature_ok() and merkle.verify_inclusion(
            leaf, self.index, self.checkpoint.size, [bytes.fromhex(p) for p in self.path],
            bytes.fromhex(self.checkpoint.root))


async def inclusion(s: AsyncSession, chain: str, seq: int) -> InclusionProof | None:
    """The proof that event ``seq`` of ``chain`` is in the first checkpoint that covers it (for an
    agreement: the one signed when it took effect). None when no checkpoint covers it yet."""
    leaf = await ledger_store.leaf_of(s, chain, seq)
    if leaf is None:
        return None
    row = (await s.execute(select(LedgerCheckpoint).where(LedgerCheckpoint.tree_size > leaf.index)
                           .order_by(LedgerCheckpoint.id).limit(1))).scalar_one_or_none()
    if row is None:
        return None
    # From the last intact checkpoint at or before the leaf: its frontier, then only the leaves signed in
    # between (an export reads the leaves of one checkpoint interval, not the whole tree).
    before = (await s.execute(select(LedgerCheckpoint).where(LedgerCheckpoint.tree_size <= leaf.index)
                              .order_by(LedgerCheckpoint.tree_size.desc(), LedgerCheckpoint.id.desc()).limit(1))
              ).scalar_one_or_none()
    fr = _frontier_of(before) or []
    start = before.tree_size if fr and before is not None else 0
    lv = await ledger_store.leaves(s, start, row.tree_size)
    if [x.index for x in lv] != list(range(start, row.tree_size)):
        return None  # leaves missing: `concord verify-log --checkpoint` names what happened
    hashes = [x.hash() for x in lv]
    fr = merkle.extend(fr, hashes, 0, leaf.index - start)
    path = [p.hex() for p in merkle.inclusion_proof_from(fr, hashes[leaf.index - start:])]
    return InclusionProof(chain, seq, leaf.event_hash, leaf.index, path, row.head())


def load_head(path: Path) -> SignedTreeHead:
    return SignedTreeHead.from_dict(json.loads(Path(path).read_text("utf-8")))


@dataclass
class LogCheck:
    ok: bool
    size: int  # the stored tree's size
    problems: list[str]

    def __str__(self) -> str:
        if self.ok:
            return f"OK the log's {self.size} leaves extend the checkpoint consistently"
        return "BAD checkpoint: " + "; ".join(self.problems)


async def check_log(s: AsyncSession, sth: SignedTreeHead, trusted_key_ids: set[str] | None = None) -> LogCheck:
    """Is the stored log an extension of checkpoint ``sth``? Read-only (pending leaves are ignored).

    Names: a bad signature; a key that is not the city's; leaves missing or renumbered; a leaf whose event
    is gone or changed; a log smaller than the checkpoint (newest rows deleted); a prefix whose root
    differs from the signed one; and a consistency proof (RFC 9162) that does not verify."""
    problems: list[str] = []
    if not sth.signature_ok():
        problems.append("the checkpoint's signature does not verify")
    if trusted_key_ids is not None and sth.key_id not in trusted_key_ids:
        problems.append(f"the checkpoint is signed by key {sth.key_id}, which is not this city's ledger key")
    lv = await ledger_store.leaves(s)
    evs = await ledger_store.event_hashes(s)
    for i, leaf in enumerate(lv):
        if leaf.index != i:
            problems.append(f"tree leaf {i} is missing (the next stored leaf is {leaf.index})")
            break
        ev = evs.get(leaf.event_id)
        if ev is None:
            problems.append(f"tree leaf {i} ({leaf.chain} seq {leaf.seq}): its event row is gone")
        elif ev != (leaf.chain, leaf.seq, leaf.event_hash):
            problems.append(f"tree leaf {i} ({leaf.chain} seq {leaf.seq}): its event row was changed")
        if len(problems) > 5:
            break
    hashes = [x.hash() for x in lv]
    if len(hashes) < sth.size:
        problems.append(f"the log has {len(hashes)} leaves, fewer than the checkpoint's {sth.size}: "
                        "events were deleted (rolled back)")
    else:
        old_root = merkle.root_of_hashes(hashes, 0, sth.size)
        if old_root.hex() != sth.root:
            problems.append(f"the first {sth.size} leaves do not hash to the checkpoint's root: "
                            "events it covers were changed, removed or reordered")
        elif sth.size:
            proof = merkle.consistency_proof(hashes, sth.size)
            if not merkle.verify_consistency(sth.size, len(hashes), bytes.fromhex(sth.root),
                                             merkle.root_of_hashes(hashes), proof):
                problems.append("the consistency proof from the checkpoint to the current tree fails")
    return LogCheck(not problems, len(hashes), problems)
