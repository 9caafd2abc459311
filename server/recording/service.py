"""Recording in live rooms: the glue between the room hub and the recorder peer.

When a moderator on this node switches recording on, the hub calls ``RecordingService.on_recording``.
We open a recording run, seat a ``recorder`` system peer in the room (``RoomHub.attach_system_peer``)
and let it answer the offers of the participants whose media is recorded. The room already decides who
may signal the recorder (consent given, admitted, in the main room or a sub-room the host included);
the recorder keeps its own view from the room messages it receives and drops a participant as soon as
they are no longer recorded (consent withdrawn, moved to a private sub-room, left).

When recording goes off (or the session ends) the recorder finishes every track, the run is closed and
the playback file is queued for composing.

With several nodes, a recorder dies with its node. The node whose sweep releases it (the room says which
one: ``RoomHub.on_recorder_lost``) closes the dead run as interrupted and records from then on, so a
session loses only the seconds until the dead node is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from server.db import Database
from server.recording.store import (
    DbRecordingEvents,
    end_run,
    next_track_no,
    next_track_on_disk,
    open_run,
    take_over_runs,
)

if TYPE_CHECKING:  # aiortc loads when a recorder first starts, not at start-up
    from server.media.recorder import Recorder

log = logging.getLogger("concord.recorder")



class FeedLink(Protocol):
    """The recorder's media on an SFU (server.sfu.recording.RecorderFeeds): Janus offers each recorded
    person's feed to the recorder, which answers through ``answer``. On a mesh there is none."""

    def start(self, peer_id: str) -> None: ...
    def poke(self) -> None: ...
    def owns(self, peer_id: str) -> bool: ...
    async def answer(self, peer_id: str, data: dict[str, Any]) -> None: ...
    async def close(self) -> None: ...


FeedsFactory = Callable[[int, "Recorder"], FeedLink]

INBOX_LIMIT = 2000  # room messages waiting for the recorder (signals, peer updates): small, bounded


class RoomRecording:
    """The recorder's seat in one room: a hub ``SystemPeer`` driving a ``Recorder``."""

    def __init__(self, service: RecordingService, session_id: int, run_id: int) -> None:
        self.service = service
        self.session_id = session_id
        self.run_id = run_id
        self.peer_id: str | None = None
        self.peers: dict[str, dict[str, Any]] = {}
        self.recorded_subrooms: set[str] = set()
        self.inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(INBOX_LIMIT)
        self.events = DbRecordingEvents(service.db, session_id, service.node, alert=self.alert)
        self.recorder: Recorder | None = None
        self.worker: asyncio.Task[None] | None = None
        self.feeds: FeedLink | None = None  # on the SFU: the recorder's Janus subscriptions
        self.stopping = False

    # -- SystemPeer ------------------------------------------------------------------------------------
    def deliver(self, message: dict[str, Any]) -> None:
        if message.get("type") == "welcome" and not self.peer_id:
            self.peer_id = message.get("peer_id")
        try:
            self.inbox.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("recorder inbox full in session %s: dropped %s", self.session_id, message.get("type"))

    def closed(self, code: int, reason: str) -> None:
        asyncio.ensure_future(self.service.stop(self.session_id, reason=reason))

    # -- room view -------------------------------------------------------------------------------------
    def is_recorded(self, peer: dict[str, Any]) -> bool:
        if peer.get("system"):
            return False
        sub = peer.get("subroom")
        return peer.get("consent") is True and (sub is None or sub in self.recorded_subrooms)

    async def _process(self) -> None:
        while True:
            msg = await self.inbox.get()
            if msg is None:
                return
            try:
                await self._handle(msg)
            except Exception:
                log.exception("recorder failed on a %s message", msg.get("type"))
            if self.feeds is not None:
                self.feeds.poke()  # consent, sub-rooms, arrivals: the SFU subscriptions follow the room

    async def _handle(self, msg: dict[str, Any]) -> None:
        t = msg.get("type")
        assert self.recorder is not None
        if t == "welcome":
            self._room(msg.get("room") or {})
            for p in msg.get("peers") or []:
                self.peers[p["id"]] = p
        elif t in ("peer-joined", "peer-updated"):
            p = msg.get("peer") or {}
            if "id" in p:
                old = self.peers.get(p["id"])
                self.peers[p["id"]] = p
                # Not recorded any more, or a new epoch (the person reconnected with a fresh connection).
                stale = old is not None and old.get("epoch") != p.get("epoch")
                if p["id"] in self.recorder.peers and (stale or not self.is_recorded(p)):
                    await self.recorder.drop(p["id"])
        elif t == "peer-left":
            pid = msg.get("peer_id")
            if isinstance(pid, str):
                self.peers.pop(pid, None)
                await self.recorder.drop(pid)
        elif t == "room":
            self._room(msg.get("room") or {})
            for pid in list(self.recorder.peers):
                p = self.peers.get(pid)
                if p is None or not self.is_recorded(p):
                    await self.recorder.drop(pid)
        elif t == "signal":
            from server.media.recorder import RemotePeer, SignalError  # loaded by start() already

            src = msg.get("from")
            if not isinstance(src, str) or (p := self.peers.get(src)) is None or not self.is_recorded(p):
                log.info("recorder ignored a signal from %s: not recorded", src)
                return
            try:
                await self.recorder.handle_signal(RemotePeer(src, p.get("name", ""), p.get("role", "")),
                                                  msg.get("data"))
            except SignalError as e:
                log.info("recorder refused a signal from %s: %s", src, e)
        elif t == "error":
            log.info("room refused a recorder message: %s", msg)

    def _room(self, room: dict[str, Any]) -> None:
        self.recorded_subrooms = set(room.get("recording_subrooms") or [])

    # -- out -------------------------------------------------------------------------------------------
    async def send_signal(self, to: str, data: dict) -> None:
        if self.feeds is not None and self.feeds.owns(to):
            await self.feeds.answer(to, data)  # the recorder's answer to Janus's offer of that feed
            return
        if self.peer_id is not None:
            await self.service.send(self.session_id, self.peer_id, {"type": "signal", "to": to, "data": data})

    async def alert(self, code: str, message: str) -> None:
        """Tell the room's moderators that recording has a problem (the ledger has it already)."""
        self.service.notify_moderators(self.session_id, {"type": "error", "code": code, "message": message})


Send = Callable[[int, str, dict[str, Any]], Awaitable[Any]]


class RecordingService:
    """This node's recorders, one per session with recording on."""

    def __init__(self, db: Database, root: Path, node: str, *, ice_servers: list[dict] | None = None,
                 max_segment_s: float = 10.0, on_stopped: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.db = db
        self.root = root
        self.node = node
        self.ice_servers = ice_servers or []
        self.max_segment_s = max_segment_s
        self.on_stopped = on_stopped
        self.hub: Any = None
        # Set when an SFU is configured (server.sfu.recording.recorder_feeds): rooms on the SFU are
        # recorded through Janus subscriptions instead of participants' offers.
        self.feeds: FeedsFactory | None = None
        self.active: dict[int, RoomRecording] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.closing = False

    def attach(self, hub: Any) -> None:
        self.hub = hub
        hub.on_recording(self.on_recording)
        hub.on_recorder_lost(self.take_over)

    async def send(self, session_id: int, peer_id: str, message: dict[str, Any]) -> None:
        with contextlib.suppress(KeyError):
            await self.hub.system_send(session_id, peer_id, message)

    def notify_moderators(self, session_id: int, msg: dict[str, Any]) -> None:
        """Deliver a server message to the moderators' connections this node holds.

        The recorder itself may only signal (rooms/permissions.py), so alerts go straight to the sockets,
        as the contract's ``error`` message. Moderators on other nodes learn it from the ledger.
        """
        rep = getattr(self.hub, "rooms", {}).get(session_id) if self.hub is not None else None
        if rep is None:
            return
        for p in rep.room.moderators():
            if p.connected and p.node == self.hub.node_id:
                conn = self.hub.conns.get(p.conn)
                if conn is not None:
                    conn.send(msg)

    async def on_recording(self, session_id: int, on: bool, subrooms: tuple[str, ...]) -> None:
        if on:
            await self.start(session_id, list(subrooms))
        else:
            await self.stop(session_id, reason="recording_off")

    async def start(self, session_id: int, subrooms: list[str]) -> RoomRecording | None:
        async with self._locks.setdefault(session_id, asyncio.Lock()):
            if session_id in self.active:
                return self.active[session_id]  # sub-room changes reach it as room messages
            async with self.db.session() as s:
                run = await open_run(s, session_id, self.node, subrooms)
                # Past every track on the shared volume too: a dead node's newest track may have no row yet.
                first = max(await next_track_no(s, session_id), next_track_on_disk(self.root, session_id))
            rec = RoomRecording(self, session_id, run.id)
            rec.recorded_subrooms = set(subrooms)
            from server.media.recorder import Recorder

            rec.recorder = Recorder(session_id, self.root, rec.send_signal, rec.events, ice_servers=self.ice_servers,
                                    first_track_no=first, max_segment_s=self.max_segment_s, node=self.node)
            rec.worker = asyncio.create_task(rec._process(), name=f"recorder-{session_id}")
            self.active[session_id] = rec
            try:
                rec.peer_id = await self.hub.attach_system_peer(session_id, rec)
            except Exception as e:  # JoinRefused: recording went off again, no room on this node, ...
                log.warning("recorder could not join session %s: %s", session_id, e)
                await self._finish(rec, "refused")
                return None
            if self.feeds is not None:
                rec.feeds = self.feeds(session_id, rec.recorder)
                rec.feeds.start(rec.peer_id)
            return rec

    async def take_over(self, session_id: int, subrooms: tuple[str, ...]) -> RoomRecording | None:
        """Record a session whose recorder died with its node."""
        if self.closing:
            return None
        async with self.db.session() as s:
            ours = {rec.run_id for rec in self.active.values()}
            lost = await take_over_runs(s, session_id, self.node, ours)
        log.warning("recorder of session %s lost with its node (runs %s); recording here", session_id, lost)
        return await self.start(session_id, list(subrooms))

    async def stop(self, session_id: int, reason: str = "recording_off") -> None:
        async with self._locks.setdefault(session_id, asyncio.Lock()):
            rec = self.active.get(session_id)
            if rec is None or rec.stopping:
                return
            await self._finish(rec, reason)

    async def _finish(self, rec: RoomRecording, reason: str) -> None:
        rec.stopping = True
        try:
            if rec.worker is not None:
                rec.inbox.put_nowait(None) if not rec.inbox.full() else rec.worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await rec.worker
            if rec.feeds is not None:
                await rec.feeds.close()
            if rec.recorder is not None:
                await rec.recorder.close()
            if rec.peer_id is not None and self.hub is not None:
                with contextlib.suppress(Exception):
                    await self.hub.detach_system_peer(rec.session_id, rec.peer_id)
            async with self.db.session() as s:
                await end_run(s, rec.run_id, "ended")
        finally:
            self.active.pop(rec.session_id, None)  # only now: everything it wrote is persisted
        log.info("recording of session %s stopped (%s)", rec.session_id, reason)
        if self.on_stopped is not None and reason != "refused":
            try:
                await self.on_stopped(rec.session_id)
            except Exception:
                log.exception("after-recording hook failed for session %s", rec.session_id)

    async def close(self) -> None:
        self.closing = True
        for sid in list(self.active):
            await self.stop(sid, reason="shutdown")
