"""Writes room events to the session ledger and session state changes, off the signaling path.

The hub queues events as rooms produce them; one task drains the queue and writes each session's batch
in one transaction (ledger appends plus the ``sessions`` row change they belong with). Relaying never
waits for the database. A graceful shutdown flushes the queue; a crash can lose at most the events of the
last ~50 ms, never a committed one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from server import ledger, ledger_store
from server.db import Database
from server.sessions.models import Session

log = logging.getLogger("concord.rooms")


@dataclass(frozen=True)
class _Item:
    session_id: int
    kind: str  # "event" | "state"
    type: str
    data: Any
    at: float


class RoomEventWriter:
    MAX_BATCH = 500
    BATCH_WINDOW_S = 0.05  # at most this much of the latest history is at risk in a crash
    RETRIES = 5

    def __init__(self, db: Database) -> None:
        self.db = db
        self._q: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.written = 0
        self.failed = 0

    def record(self, session_id: int, type: str, data: dict[str, Any], at: float) -> None:
        self._idle.clear()
        self._q.put_nowait(_Item(session_id, "event", type, data, at))

    def state(self, session_id: int, state: str, at: float) -> None:
        self._idle.clear()
        self._q.put_nowait(_Item(session_id, "state", state, None, at))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="room-event-writer")

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written."""
        if self._q.empty() and self._idle.is_set():
            return
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self) -> None:
        try:
            await self.flush()
        except TimeoutError:
            log.error("room event writer: %d events not written at shutdown", self._q.qsize())
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            item = await self._q.get()
            # Gather what follows within a moment (a join brings several events; a join storm, hundreds):
            # fewer, larger transactions, and joins' token lookups are not queued behind each write.
            await asyncio.sleep(self.BATCH_WINDOW_S)
            batch = [item]
            while not self._q.empty() and len(batch) < self.MAX_BATCH:
                batch.append(self._q.get_nowait())
            by_session: dict[int, list[_Item]] = {}
            for it in batch:
                by_session.setdefault(it.session_id, []).append(it)
            for sid, items in by_session.items():
                await self._write(sid, items)
            if self._q.empty():
                self._idle.set()

    async def _write(self, sid: int, items: list[_Item]) -> None:
        delay = 0.2
        for attempt in range(self.RETRIES):
            try:
                async with self.db.session() as s:
                    for it in items:
                        at = datetime.fromtimestamp(it.at, UTC)
                        if it.kind == "event":
                            await ledger_store.append(s, ledger.session_chain(sid), it.type, it.data, at=at)
                        elif it.type == "live":
                            await s.execute(update(Session).where(
                                Session.id == sid, Session.state.in_(("scheduled", "interrupted", "live"))
                            ).values(state="live", version=Session.version + 1))
                            await s.execute(update(Session).where(Session.id == sid, Session.started_at.is_(None))
                                            .values(started_at=at))
                        elif it.type == "ended":
                            await s.execute(update(Session).where(
                                Session.id == sid, Session.state.in_(("scheduled", "interrupted", "live"))
                            ).values(state="ended", ended_at=at, version=Session.version + 1))
                self.written += len(items)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if attempt == self.RETRIES - 1:
                    self.failed += len(items)
                    log.error("room events for session %s lost after %d attempts: %s", sid, self.RETRIES,
                              type(e).__name__)
                    return
                await asyncio.sleep(delay)
                delay *= 2
