"""Recording on the SFU (docs/sfu.md, "Recording on the SFU"; docs/recording.md).

On a mesh, each recorded person offers to the recorder. On the SFU nobody offers to it: the recorder is
an ordinary Janus subscriber. ``RecorderFeeds`` keeps, for one session, one VideoRoom subscriber handle
per recorded person (``plan.visible_feeds`` for the recorder: people whose ``Room.is_recorded`` holds:
consent given, admitted, in the main room or an included sub-room), each subscribed to that person's
feed only. Janus's offer goes to the unchanged ``Recorder`` as that person's offer; its answer comes back
through ``answer`` and is sent to Janus with ``start``. So the recorder keeps one PeerConnection per
person, its no-transcode segments, hashes and ledger entries, and drops a person exactly as on the mesh.

Janus's own recorder (``record``/``rec_dir``) is never used: what is recorded, and its ledger, is only
what Concord writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from server.rooms.hub import RoomHub
from server.sfu import plan
from server.sfu.bridge import SfuBridge, party
from server.sfu.cluster import NoInstance
from server.sfu.janus import VR_NO_SUCH_FEED, VR_NO_SUCH_ROOM, JanusError, VideoRoomHandle

if TYPE_CHECKING:  # aiortc loads when a recorder first starts, not at start-up
    from server.media.recorder import Recorder

log = logging.getLogger("concord.sfu.recording")

SYNC_S = 1.0  # also look again this often (a feed that came up on another node, a failed request)


class RecorderFeeds:
    """The recorder's subscriptions in one session's Janus room."""

    def __init__(self, bridge: SfuBridge, hub: RoomHub, session_id: int, recorder: Recorder) -> None:
        self.bridge = bridge
        self.hub = hub
        self.session_id = session_id
        self.recorder = recorder
        self.peer_id: str | None = None  # the recorder's own peer id in the room
        self.handles: dict[str, VideoRoomHandle] = {}
        self.epochs: dict[str, tuple[int, int]] = {}  # peer -> (epoch, room generation) subscribed
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    def start(self, peer_id: str) -> None:
        self.peer_id = peer_id
        self._task = asyncio.create_task(self._loop(), name=f"recorder-feeds-{self.session_id}")

    def poke(self) -> None:
        """Something changed in the room: look again soon."""
        self._wake.set()

    def owns(self, peer_id: str) -> bool:
        return peer_id in self.handles

    async def answer(self, peer_id: str, data: dict[str, Any]) -> None:
        """The recorder's answer to Janus's offer for ``peer_id``'s feed."""
        h = self.handles.get(peer_id)
        desc = data.get("description") if isinstance(data, dict) else None
        if h is None or not isinstance(desc, dict) or desc.get("type") != "answer":
            return
        try:
            await h.start({"type": "answer", "sdp": str(desc.get("sdp") or "")})
        except JanusError as e:
            log.warning("recorder: start for %s failed: %s", peer_id, e)
            await self._unsubscribe(peer_id)

    async def close(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for pid in list(self.handles):
            await self._unsubscribe(pid, drop=False)

    # ---- reconciling -------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self.closed:
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except (JanusError, NoInstance) as e:
                log.warning("recorder subscriptions in session %s: %s", self.session_id, e)
            except Exception:
                log.exception("recorder subscriptions in session %s failed", self.session_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SYNC_S)
            self._wake.clear()

    def wanted(self) -> dict[str, tuple[int, int]]:
        """Recorded people whose feed is up: peer id -> (epoch, generation)."""
        rep = self.hub.rooms.get(self.session_id)
        if rep is None or self.peer_id is None:
            return {}
        room = rep.room
        me = room.peers.get(self.peer_id)
        if me is None or room.topology != plan.SFU or room.ended:
            return {}
        publishers = [party(room, p) for p in room.sfu_publishers()]
        return {pid: (room.peers[pid].epoch, room.sfu_generation)
                for pid in plan.visible_feeds(party(room, me), publishers)}

    async def sync(self) -> None:
        async with self._lock:
            want = self.wanted()
            for pid in list(self.handles):
                if want.get(pid) != self.epochs.get(pid):
                    await self._unsubscribe(pid)
            for pid in want:
                if pid not in self.handles:
                    await self._subscribe(pid, want[pid])

    async def _subscribe(self, pid: str, key: tuple[int, int]) -> None:
        rep = self.hub.rooms.get(self.session_id)
        if rep is None:
            return
        p = rep.room.peers.get(pid)
        if p is None:
            return
        rm = await self.bridge._room_media(rep)
        assert rm.instance.session is not None
        h = await rm.instance.session.attach_videoroom(opaque_id=f"concord-{self.session_id}-recorder")
        try:
            _, offer = await h.join_subscriber(rm.janus_room, [{"feed": plan.janus_participant_id(pid)}])
        except JanusError as e:
            with contextlib.suppress(JanusError):
                await h.detach()
            if e.code in (VR_NO_SUCH_FEED, VR_NO_SUCH_ROOM):
                return  # gone meanwhile; the next look decides again
            raise
        self.handles[pid] = h
        self.epochs[pid] = key
        from server.media.recorder import RemotePeer, SignalError  # heavy: loaded by the recorder already

        try:
            await self.recorder.handle_signal(RemotePeer(pid, p.name, p.role),
                                              {"description": {"type": "offer", "sdp": offer["sdp"]}})
        except SignalError as e:
            log.info("recorder refused %s's feed: %s", pid, e)
            await self._unsubscribe(pid)

    async def _unsubscribe(self, pid: str, *, drop: bool = True) -> None:
        h = self.handles.pop(pid, None)
        self.epochs.pop(pid, None)
        if drop:
            await self.recorder.drop(pid)
        if h is not None:
            with contextlib.suppress(JanusError):
                await h.detach()


def recorder_feeds(bridge: SfuBridge | None, hub: RoomHub) -> Any:
    """The factory the recording service is given (None without an SFU)."""
    if bridge is None:
        return None

    def make(session_id: int, recorder: Recorder) -> RecorderFeeds:
        return RecorderFeeds(bridge, hub, session_id, recorder)

    return make


__all__ = ["RecorderFeeds", "recorder_feeds"]
