"""Minutes (笔录): versioning rules as plain Python, and the store functions that apply them.

Every save makes a new version; nothing is overwritten. A save names the version it was based on, so
two mediators editing at once cannot silently overwrite each other: the later one gets a conflict and
the current text to merge with. Each version is ledgered (``minutes_saved``) with its SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import ledger
from server.ledger_store import append, lock_chain
from server.recording.models import MinutesVersion

MAX_MINUTES_CHARS = 100_000


class MinutesError(ValueError):
    def __init__(self, code: str, message: str, current: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.current = current


@dataclass(frozen=True)
class Draft:
    text: str
    version: int
    sha256: str


def prepare(text: str, base_version: int, current_version: int) -> Draft:
    """Validate a save and give the version it becomes."""
    if not isinstance(text, str):
        raise MinutesError("invalid_field", "text must be a string")
    text = text.replace("\r\n", "\n")
    if len(text) > MAX_MINUTES_CHARS:
        raise MinutesError("too_large", f"minutes are limited to {MAX_MINUTES_CHARS} characters")
    if "\x00" in text:
        raise MinutesError("invalid_field", "text contains a NUL character")
    if base_version != current_version:
        raise MinutesError("stale_version",
                           f"the minutes changed (now version {current_version}); reload and merge", current_version)
    return Draft(text, current_version + 1, hashlib.sha256(text.encode("utf-8")).hexdigest())


async def current(s: AsyncSession, session_id: int, version: int | None = None) -> MinutesVersion | None:
    q = select(MinutesVersion).where(MinutesVersion.session_id == session_id)
    q = q.where(MinutesVersion.version == version) if version else q.order_by(MinutesVersion.version.desc())
    return (await s.execute(q.limit(1))).scalar_one_or_none()


async def versions(s: AsyncSession, session_id: int) -> list[MinutesVersion]:
    q = select(MinutesVersion).where(MinutesVersion.session_id == session_id).order_by(MinutesVersion.version)
    return list((await s.execute(q)).scalars())


async def save(s: AsyncSession, session_id: int, text: str, base_version: int, author_id: int | None,
               author_name: str) -> MinutesVersion:
    chain = ledger.session_chain(session_id)
    # Lock the chain before reading the current version, so concurrent saves are serialised
    # (the unique (session, version) constraint is the backstop).
    await lock_chain(s, chain)
    latest = await current(s, session_id)
    draft = prepare(text, base_version, latest.version if latest else 0)
    row = MinutesVersion(session_id=session_id, version=draft.version, text=draft.text, sha256=draft.sha256,
                         author_id=author_id, author_name=author_name)
    s.add(row)
    await s.flush()
    await append(s, chain, "minutes_saved", {"version": draft.version, "sha256": draft.sha256,
                                             "chars": len(draft.text), "by": author_id, "by_name": author_name})
    return row


def minutes_json(m: MinutesVersion | None) -> dict:
    if m is None:
        return {"version": 0, "text": "", "sha256": None, "author": None, "saved_at": None}
    return {"version": m.version, "text": m.text, "sha256": m.sha256, "author": m.author_name,
            "saved_at": ledger.format_time(m.created_at)}
