"""The councils feature: the JSON API (``api.py``, registered on import), the pages (``pages.py``), ballots and
attendance from the live room (wired to the room hub here)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from server.councils import lookups, room_votes
from server.councils.http import (
    api,  # noqa: F401  (registers /api/councils… routes)
    pages,
)
from server.services import services

log = logging.getLogger("concord.councils")
ATTENDANCE_COALESCE_S = 0.5  # one attendance broadcast per room per half second, however many join


SWEEP_S = 15.0  # votes past their window are closed (and the room told) within this


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    """Background work (config.schedulers): close votes whose window passed, broadcasting the tally to their
    room; once a day per task, remind overdue tasks (the cases' closed loop)."""
    svc = services(app)
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            try:
                await room_votes.sweep(svc.db, svc.clock, svc.config.secret_key, getattr(svc, "room_hub", None))
            except Exception:
                log.exception("council sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SWEEP_S)

    task = asyncio.create_task(loop(), name="council-sweeper")
    yield
    stop.set()
    await task


def setup(app: web.Application) -> None:
    pages.setup(app)
    svc = services(app)
    if svc.config.schedulers:
        app.cleanup_ctx.append(_sweeper)
    hub = getattr(svc, "room_hub", None)
    if hub is None:
        return
    tasks: set[asyncio.Task[Any]] = set()
    pending: set[int] = set()  # rooms with an attendance broadcast due (coalesced: a crowd joining at once)

    async def vote(session_id: int, identity: str, msg: dict[str, Any]) -> dict[str, Any]:
        return await room_votes.cast_from_room(svc.db, svc.clock, svc.config.secret_key, session_id, identity, msg)

    async def announce(session_id: int) -> None:
        await asyncio.sleep(ATTENDANCE_COALESCE_S)
        pending.discard(session_id)
        summary = await room_votes.attendance(svc.db, svc.clock, session_id)
        if summary is not None:
            await hub.broadcast(session_id, {"type": "council_attendance",
                                             **{k: v for k, v in summary.items() if k != "attendees"}})

    async def attend(session_id: int, identity: str, present: bool) -> None:
        changed = await room_votes.attend_from_room(svc.db, svc.clock, svc.config.secret_key, session_id, identity,
                                                    present)
        if changed is not None and session_id not in pending:
            pending.add(session_id)
            await announce(session_id)

    def on_event(ev: Any) -> None:
        # Only council rooms matter; the listener runs on the node that applied the event, once.
        if ev.type not in ("peer_joined", "admitted"):  # leaving is the convenor's to mark (a drop may resume)
            return
        rep = hub.rooms.get(ev.session_id)
        peer = rep.room.peers.get(ev.data.get("peer")) if rep is not None else None
        if rep is None or rep.room.kind != "council" or peer is None or peer.system:
            return
        if ev.type == "peer_joined" and not peer.admitted:
            return
        t = asyncio.get_running_loop().create_task(attend(ev.session_id, peer.identity, True))
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    async def floor_limit(session_id: int) -> float | None:
        # The speaking time per turn of a council meeting in session (rules.SpeakingQueue's limit); the hub
        # takes the floor back when it runs out (server-side, so the SFU stops forwarding that audio).
        rep = hub.rooms.get(session_id)
        if rep is None or rep.room.kind != "council":
            return None
        async with svc.db.read() as s:
            return await lookups.speaking_limit(s, session_id)

    hub.on_vote(vote)
    hub.on_floor_limit(floor_limit)
    hub.add_listener(on_event)
