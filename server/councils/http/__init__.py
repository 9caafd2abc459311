"""The councils feature: the JSON API (``api.py``, registered on import), the pages (``pages.py``), ballots and
attendance from the live room (wired to the room hub here)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from server.councils import room_votes
from server.councils.http import (
    api,  # noqa: F401  (registers /api/councils… routes)
    pages,
)
from server.services import services

log = logging.getLogger("concord.councils")


def setup(app: web.Application) -> None:
    pages.setup(app)
    svc = services(app)
    hub = getattr(svc, "room_hub", None)
    if hub is None:
        return
    tasks: set[asyncio.Task[Any]] = set()

    async def vote(session_id: int, identity: str, msg: dict[str, Any]) -> dict[str, Any]:
        return await room_votes.cast_from_room(svc.db, svc.clock, svc.config.secret_key, session_id, identity, msg)

    async def attend(session_id: int, identity: str, present: bool) -> None:
        summary = await room_votes.attend_from_room(svc.db, svc.clock, svc.config.secret_key, session_id, identity,
                                                    present)
        if summary is not None:
            await hub.broadcast(session_id, {"type": "council_attendance",
                                             **{k: v for k, v in summary.items() if k != "attendees"}})

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

    hub.on_vote(vote)
    hub.add_listener(on_event)
