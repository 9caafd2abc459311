"""A reference client that follows the room's media topology: the mesh of ``RoomClient`` or the SFU.

On the SFU (docs/protocol.md, "Media on the SFU") it keeps two aiortc peer connections to Concord's
Janus: one publishing its tracks (``sfu``/``publish`` → ``answer``) and one receiving, driven by the
server's offers (``offer`` → ``start``). The ``feeds`` of each offer map mids to Concord peer ids, so
frames are counted per peer as on the mesh. A ``topology`` message moves it in place: mesh links close,
the SFU connections open, nobody rejoins. Like ``RoomClient`` it ignores ``muted`` (it never stops its
tracks), which is what the server-side mute tests need.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.support.room_client import RoomClient

NO_STUN = RTCConfiguration(iceServers=[])  # loopback tests reach nothing outside


class SfuRoomClient(RoomClient):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.topology = "mesh"
        self.generation = 0
        self.pub: RTCPeerConnection | None = None
        self.sub: RTCPeerConnection | None = None
        self.feeds: dict[str, str] = {}  # mid -> peer id of the subscription's streams
        self.sfu_frames: dict[str, dict[str, int]] = {}
        self.sfu_last: dict[str, float] = {}  # peer:kind -> time of the last frame
        # Every frame received per kind, whoever sent it. aiortc routes RTP of one payload type to one
        # receiver when the packets' SSRC is not in the SDP, so with several audio feeds per-peer audio
        # counts can be attributed to the wrong peer; tests that measure one person's audio make sure
        # it is the only audio that may arrive and count this total.
        self.sfu_total = {"audio": 0, "video": 0}
        self.sfu_total_last = {"audio": 0.0, "video": 0.0}  # monotonic time of the last frame per kind
        self.published = asyncio.Event()
        self.offers = 0
        self.last_offer = ""
        self.sfu_errors: list[dict[str, Any]] = []
        self._sfu_tasks: list[asyncio.Task[None]] = []

    # ---- topology -----------------------------------------------------------------------------------

    async def _handle(self, m: dict[str, Any]) -> None:
        t = m.get("type")
        if t == "welcome":
            self.topology = m["room"].get("topology", "mesh")
            self.generation = m["room"].get("sfu_generation", 0)
        elif t == "topology":
            self.topology, self.generation = m["topology"], m.get("generation", 0)
            await self._close_links()
        elif t == "sfu":
            await self._on_sfu(m)
        elif t == "error" and m.get("ref") == "sfu":
            self.sfu_errors.append(m)
        await super()._handle(m)
        if self.topology == "sfu" and (t == "welcome" or t == "topology"):
            await self._sfu_start()

    async def _offer(self, peer_id: str) -> None:
        if self.topology != "sfu":
            await super()._offer(peer_id)

    async def _on_signal(self, src: str, data: dict[str, Any]) -> None:
        if self.topology != "sfu":
            await super()._on_signal(src, data)

    # ---- the SFU ------------------------------------------------------------------------------------

    async def _sfu_start(self) -> None:
        """(Re)open both SFU connections and publish: on welcome, on a move, after a failover."""
        await self._sfu_close()
        self.published.clear()
        self.pub = RTCPeerConnection(NO_STUN)
        for track in self._local_tracks():
            self.pub.addTrack(self._relay.subscribe(track))
        await self.pub.setLocalDescription(await self.pub.createOffer())
        await self.send({"type": "sfu", "op": "publish", "sdp": self.pub.localDescription.sdp})

    async def _on_sfu(self, m: dict[str, Any]) -> None:
        op = m.get("op")
        if op == "answer" and self.pub is not None:
            await self.pub.setRemoteDescription(RTCSessionDescription(m["sdp"], "answer"))
            self.published.set()
        elif op == "feeds":  # the shown feeds changed without renegotiation (a paused or resumed feed)
            self.feeds = {f["mid"]: f["peer"] for f in m.get("feeds") or []}
        elif op == "offer":
            self.offers += 1
            self.last_offer = m["sdp"]
            self.feeds = {f["mid"]: f["peer"] for f in m.get("feeds") or []}
            if self.sub is None:
                self.sub = RTCPeerConnection(NO_STUN)
                sub = self.sub

                @sub.on("track")
                def on_track(track: MediaStreamTrack) -> None:
                    if self.consume:
                        self._sfu_tasks.append(asyncio.create_task(self._count_sfu(sub, track)))

            await self.sub.setRemoteDescription(RTCSessionDescription(m["sdp"], "offer"))
            await self.sub.setLocalDescription(await self.sub.createAnswer())
            await self.send({"type": "sfu", "op": "start", "sdp": self.sub.localDescription.sdp})

    async def _count_sfu(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        mid = next((str(t.mid) for t in pc.getTransceivers() if t.receiver.track is track), "?")
        kind = track.kind
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                self.sfu_total[kind] += 1
                self.sfu_total_last[kind] = time.monotonic()
                peer = self.feeds.get(mid)
                if peer is None:
                    continue
                per = self.sfu_frames.setdefault(peer, {"audio": 0, "video": 0})
                per[kind] += 1
                self.sfu_last[f"{peer}:{kind}"] = time.monotonic()
                if per[kind] % 5 == 0:
                    self._changed.set()

    def frames_from(self, peer_id: str, kind: str = "video") -> int:
        return super().frames_from(peer_id, kind) + self.sfu_frames.get(peer_id, {}).get(kind, 0)

    def last_from(self, peer_id: str, kind: str) -> float:
        return self.sfu_last.get(f"{peer_id}:{kind}", 0.0)

    async def set_layers(self, tiles: dict[str, int], bandwidth: int | None = None, low_data: bool = False) -> None:
        await self.send({"type": "sfu", "op": "layers", "layers": {
            "tiles": [{"peer": p, "height": h} for p, h in tiles.items()], "bandwidth": bandwidth,
            "low_data": low_data}})

    async def _sfu_close(self) -> None:
        for t in self._sfu_tasks:
            t.cancel()
        self._sfu_tasks.clear()
        for pc in (self.pub, self.sub):
            if pc is not None:
                await pc.close()
        self.pub = self.sub = None
        self.feeds = {}

    async def close(self) -> None:
        await self._sfu_close()
        await super().close()
