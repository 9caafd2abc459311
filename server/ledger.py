"""The tamper-evident ledger: hash-chained events, one chain per session, one per case, one for accounts.

Every event is hashed as ``hash = SHA-256(ASCII(prev_hash) || canonical bytes)``, lowercase hex; the first
event's ``prev_hash`` is 64 zeros. The canonical bytes depend on the event's version (docs/ledger.md):

- v1 (older rows): the object ``chain, seq, type, at, data`` with ``at`` as ISO 8601 UTC with six
  fractional digits and a ``Z``, written by Python's ``json.dumps(sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)``. Kept only so old chains stay verifiable: Python's number forms are not portable.
- v2 (every new event): RFC 8785 JCS (server/jcs.py) of ``chain, seq, type, at, data, v`` with ``at`` an
  integer, milliseconds since 1970-01-01T00:00:00Z, and ``v`` = 2.

The verifier dispatches on each event's version, so a chain of v1 rows followed by v2 rows verifies.
Plain Python: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from server import jcs

GENESIS = "0" * 64
VERSIONS = (1, 2)
CURRENT_VERSION = 2
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def session_chain(session_id: int | str) -> str:
    return f"session:{session_id}"


def case_chain(case_id: int | str) -> str:
    return f"case:{case_id}"


def agreement_chain(agreement_id: int | str) -> str:
    """An agreement outside a case (one in a case writes to the case's chain)."""
    return f"agreement:{agreement_id}"


def council_chain(council_id: int | str) -> str:
    """A residents' council: membership, topic decisions, votes (tally, quorum, result), tasks, publication."""
    return f"council:{council_id}"


# Who could act, and since when: accounts and units created, passwords changed, accounts deactivated,
# sign-outs. One chain for the whole network.
DIRECTORY_CHAIN = "directory"


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_ms(at: datetime) -> int:
    """Whole milliseconds since the epoch (floor), exactly: integer arithmetic, no floats."""
    return (at.astimezone(UTC) - EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def hashed_at(v: int, at: datetime) -> str | int:
    """The ``at`` value as the version hashes it."""
    return format_time(at) if v == 1 else epoch_ms(at)


def canonical_v1(chain: str, seq: int, type: str, at: datetime | str, data: Any) -> bytes:
    at_s = at if isinstance(at, str) else format_time(at)
    body = {"chain": chain, "seq": seq, "type": type, "at": at_s, "data": data}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical_v2(chain: str, seq: int, type: str, at: datetime | int, data: Any) -> bytes:
    at_ms = at if isinstance(at, int) else epoch_ms(at)
    return jcs.canonicalize({"chain": chain, "seq": seq, "type": type, "at": at_ms, "data": data, "v": 2})


def canonical(chain: str, seq: int, type: str, at: datetime | str | int, data: Any, v: int = 1) -> bytes:
    """The canonical bytes of an event of version ``v`` (``at`` as a datetime or as hashed)."""
    if v == 1:
        if isinstance(at, int):
            raise ValueError("a v1 event's time is a datetime or an ISO string")
        return canonical_v1(chain, seq, type, at, data)
    if v == 2:
        if isinstance(at, str):
            raise ValueError("a v2 event's time is a datetime or milliseconds")
        return canonical_v2(chain, seq, type, at, data)
    raise ValueError(f"unknown ledger event version {v}")


def link_hash(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


@dataclass(frozen=True)
class Event:
    chain: str
    seq: int
    type: str
    at: datetime
    data: Any
    prev_hash: str
    hash: str
    v: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {  # the API's event shape (docs/api.md, "Stable names"); export() is the form a verifier re-hashes
            "seq": self.seq,
            "type": self.type,
            "at": format_time(self.at),
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def export(self) -> dict[str, Any]:
        """The event as docs/ledger.md's export: every field with exactly the value that is hashed
        (``at`` an ISO string for v1, integer milliseconds for v2)."""
        return {"v": self.v, "chain": self.chain, "seq": self.seq, "type": self.type,
                "at": hashed_at(self.v, self.at), "data": self.data, "prev_hash": self.prev_hash,
                "hash": self.hash}

    def recompute(self) -> str:
        return link_hash(self.prev_hash, canonical(self.chain, self.seq, self.type, self.at, self.data, self.v))


def make_event(chain: str, prev: Event | None, type: str, data: Any, at: datetime) -> Event:
    """The next event after ``prev`` (None for the first) on ``chain``, always of the current version.

    Raises ValueError for data JCS cannot represent exactly (NaN, integers beyond 2**53, lone surrogates)."""
    seq = prev.seq + 1 if prev else 1
    prev_hash = prev.hash if prev else GENESIS
    # Round-trip through JSON now, so what is hashed equals what the store gives back.
    data = json.loads(json.dumps(data, ensure_ascii=False, allow_nan=False))
    # Whole milliseconds: the stored time is exactly the hashed one.
    at = from_epoch_ms(epoch_ms(at))
    h = link_hash(prev_hash, canonical_v2(chain, seq, type, at, data))
    return Event(chain, seq, type, at, data, prev_hash, h, CURRENT_VERSION)


@dataclass
class Verification:
    ok: bool
    count: int
    bad_seq: int | None = None
    reason: str = ""
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.ok:
            return f"OK {self.count} events"
        return f"BAD event seq={self.bad_seq}: {self.reason}"


def verify(events: Iterable[Event], chain: str | None = None) -> Verification:
    """Check a chain in storage order. Names the first event that is edited, missing, inserted or moved."""
    prev_hash = GENESIS
    expected = 1
    n = 0
    newest_v = 1
    for ev in events:
        n += 1
        if chain is not None and ev.chain != chain:
            return Verification(False, n, ev.seq, f"belongs to chain {ev.chain!r}, not {chain!r}")
        if ev.seq != expected:
            return Verification(False, n, ev.seq, f"sequence gap or reorder: expected seq {expected}")
        if ev.prev_hash != prev_hash:
            return Verification(False, n, ev.seq, "prev_hash does not match the previous event's hash")
        if ev.v not in VERSIONS:
            return Verification(False, n, ev.seq, f"unknown version {ev.v}")
        if ev.v < newest_v:
            # Versions only go up along a chain: a v1 event after a v2 one was made up.
            return Verification(False, n, ev.seq, f"version {ev.v} after a version {newest_v} event")
        try:
            h = ev.recompute()
        except ValueError as e:
            return Verification(False, n, ev.seq, f"content cannot be canonicalised: {e}")
        if h != ev.hash:
            return Verification(False, n, ev.seq, "content does not match its hash (edited)")
        prev_hash = ev.hash
        newest_v = ev.v
        expected += 1
    return Verification(True, n)
