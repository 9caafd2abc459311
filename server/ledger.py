"""The tamper-evident ledger: hash-chained events, one chain per session, one per case, one for accounts.

Canonical form (docs/ledger.md): the event's ``chain``, ``seq``, ``type``, ``at`` (ISO 8601 UTC with
microseconds and a ``Z``) and ``data`` as JSON with sorted keys, no insignificant white space and UTF-8
text (``ensure_ascii=False``). ``hash = sha256(prev_hash_hex + canonical_json)`` as lowercase hex; the
first event's ``prev_hash`` is 64 zeros. Plain Python: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def session_chain(session_id: int | str) -> str:
    return f"session:{session_id}"


def case_chain(case_id: int | str) -> str:
    return f"case:{case_id}"


# Who could act, and since when: accounts and units created, passwords changed, accounts deactivated,
# sign-outs. One chain for the whole network.
DIRECTORY_CHAIN = "directory"


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(chain: str, seq: int, type: str, at: datetime | str, data: Any) -> bytes:
    at_s = at if isinstance(at, str) else format_time(at)
    body = {"chain": chain, "seq": seq, "type": type, "at": at_s, "data": data}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "at": format_time(self.at),
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def make_event(chain: str, prev: Event | None, type: str, data: Any, at: datetime) -> Event:
    """The next event after ``prev`` (None for the first) on ``chain``."""
    seq = prev.seq + 1 if prev else 1
    prev_hash = prev.hash if prev else GENESIS
    # Round-trip through JSON now, so what is hashed equals what the store gives back.
    data = json.loads(json.dumps(data, ensure_ascii=False))
    at = datetime.fromisoformat(format_time(at).replace("Z", "+00:00"))
    h = link_hash(prev_hash, canonical(chain, seq, type, at, data))
    return Event(chain, seq, type, at, data, prev_hash, h)


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
    for ev in events:
        n += 1
        if chain is not None and ev.chain != chain:
            return Verification(False, n, ev.seq, f"belongs to chain {ev.chain!r}, not {chain!r}")
        if ev.seq != expected:
            return Verification(False, n, ev.seq, f"sequence gap or reorder: expected seq {expected}")
        if ev.prev_hash != prev_hash:
            return Verification(False, n, ev.seq, "prev_hash does not match the previous event's hash")
        h = link_hash(ev.prev_hash, canonical(ev.chain, ev.seq, ev.type, ev.at, ev.data))
        if h != ev.hash:
            return Verification(False, n, ev.seq, "content does not match its hash (edited)")
        prev_hash = ev.hash
        expected += 1
    return Verification(True, n)
