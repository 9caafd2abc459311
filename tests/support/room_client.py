"""A reference client for signaling protocol v1 with aiortc media.

It follows the client rules of docs/protocol.md: the newcomer (or the peer that moved) offers to the peers
already in its sub-room, connections that cross sub-rooms are closed, an epoch change drops the old
connection, and reconnecting means a fresh RTCPeerConnection per peer plus the resume token. aiortc puts
all its candidates in the SDP; browser candidates that arrive are added with ``candidate_from_sdp``, and
held until the remote description is set.

Used by the media tests and bench/join.py (which imports it from tests.support); it is not part of the
wheel. A starting point for hardware terminals written in Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

log = logging.getLogger("concord.client")


@dataclass
class Link:
    """One peer connection to one remote peer."""

    peer_id: str
    pc: RTCPeerConnection
    offerer: bool
    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    first_video_at: float | None = None
    pending_candidates: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False


class RoomClient:
    def __init__(self, base_url: str, token: str, *, tracks: Callable[[], list[MediaStreamTrack]] | None = None,
                 check: str | None = None, consume: bool = True, session: aiohttp.ClientSession | None = None) -> None:
        """``tracks`` makes this client's local tracks (called once); each link gets relayed copies."""
        self.url = base_url.rstrip("/") + "/ws"
        self.token = token
        self.check = check
        self.consume = consume
        self._own_session = session is None
        self._session = session
        self._make_tracks = tracks
        self._tracks: list[MediaStreamTrack] | None = None
        self._relay = MediaRelay()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.peer_id: str | None = None
        self.resume: str | None = None
        self.role: str | None = None
        self.subroom: str | None = None
        self.room: dict[str, Any] = {}
        self.ice: list[dict[str, Any]] = []
        self.consent: bool | None = None
        self.peers: dict[str, dict[str, Any]] = {}
        self.links: dict[str, Link] = {}
        self.closed_links: list[Link] = []
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.joined_at: float | None = None
        self.on_message: Callable[[dict[str, Any]], None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._welcomed = asyncio.Event()

    # ---- connection -------------------------------------------------------------------------------

    async def connect(self, *, resume: str | None = None, **extra: Any) -> dict[str, Any]:
        """Open the socket and join; returns the first answer (``welcome``, ``lobby`` or ``error``)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._welcomed.clear()
        self.joined_at = time.perf_counter()
        self.ws = await self._session.ws_connect(self.url, heartbeat=None)
        join: dict[str, Any] = {"type": "join", "token": self.token, **extra}
        if resume:
            join["resume"] = resume
        if self.check is not None:
            join["check"] = self.check
        await self.ws.send_str(json.dumps(join))
        first = await self._receive_one(15.0)
        self._reader = asyncio.create_task(self._read(), name="room-client-reader")
        return first

    async def _receive_one(self, timeout: float) -> dict[str, Any]:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            self.close_code = msg.data if msg.type == aiohttp.WSMsgType.CLOSE else self.ws.close_code
            return {"type": "closed", "code": self.close_code}
        m = json.loads(msg.data)
        await self._handle(m)
        return m

    async def _read(self) -> None:
        assert self.ws is not None
        ws = self.ws
        try:
            while True:
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    try:
                        await self._handle(json.loads(msg.data))
                    except Exception:
                        log.exception("handling a room message failed")
                    continue
                if msg.type == aiohttp.WSMsgType.CLOSE:
                    self.close_code = msg.data  # the server's code (close_code may read 1006 later)
                break
        finally:
            if self.ws is ws:
                self.close_code = self.close_code or ws.close_code
            self._changed.set()

    async def send(self, msg: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(msg))

    def kill(self) -> None:
        """Drop the network under the socket (no close handshake): what a flaky phone connection does."""
        assert self.ws is not None
        conn = self.ws._response.connection  # noqa: SLF001 - tests need a hard drop
        if conn is not None and conn.transport is not None:
            conn.transport.abort()

    async def reconnect(self) -> dict[str, Any]:
        """Fresh peer connections plus the resume token (protocol rule)."""
        await self._close_links()
        if self._reader:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self.ws is not None and not self.ws.closed:
            self.kill()
        return await self.connect(resume=self.resume)

    async def leave(self) -> None:
        with contextlib.suppress(Exception):
            await self.send({"type": "leave"})
        await self.close()

    async def close(self) -> None:
        await self._close_links()
        if self._reader:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close()
        for t in self._tracks or []:
            t.stop()
        if self._own_session and self._session is not None:
            await self._session.close()

    # ---- waiting ----------------------------------------------------------------------------------

    async def wait(self, predicate: Callable[[], bool], timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("condition not met in time")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.1))

    async def wait_message(self, type_: str, timeout: float = 30.0,
                           where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        seen = 0

        def found() -> bool:
            nonlocal seen
            return any(m["type"] == type_ and (where is None or where(m)) for m in self.messages)

        await self.wait(found, timeout)
        for i, m in enumerate(self.messages):
            if m["type"] == type_ and (where is None or where(m)):
                seen = i
                return self.messages.pop(seen)
        raise AssertionError("unreachable")

    def frames_from(self, peer_id: str, kind: str = "video") -> int:
        link = self.links.get(peer_id)
        return link.frames[kind] if link else 0

    # ---- protocol ---------------------------------------------------------------------------------

    async def _handle(self, m: dict[str, Any]) -> None:
        t = m.get("type")
        self.messages.append(m)
        if len(self.messages) > 500:
            del self.messages[:250]
        if self.on_message:
            self.on_message(m)
        if t == "welcome":
            self.peer_id, self.resume, self.role = m["peer_id"], m["resume"], m["role"]
            self.room = m["room"]
            self.ice = m.get("ice_servers") or []
            self.peers = {p["id"]: p for p in m["peers"]}
            self.subroom = m.get("subroom")
            self._welcomed.set()
            for p in m["peers"]:
                if self._should_connect(p):
                    await self._offer(p["id"])
        elif t == "peer-joined":
            p = m["peer"]
            self.peers[p["id"]] = p
            if p.get("system") and self._should_connect(p):
                await self._offer(p["id"])  # the recorder never offers: each consenting participant does
        elif t == "peer-updated":
            p = m["peer"]
            old = self.peers.get(p["id"])
            self.peers[p["id"]] = p
            if p["id"] == self.peer_id and p.get("consent") is True:
                # Our consent is in the room now, so the recorder will take our offer.
                for q in list(self.peers.values()):
                    if q.get("system") and q["id"] not in self.links and self._should_connect(q):
                        await self._offer(q["id"])
            link = self.links.get(p["id"])
            if link is not None and (p["subroom"] != self.subroom or (old and old["epoch"] != p["epoch"])
                                     or not self._may_link(p)):
                await self._close_link(p["id"])
        elif t == "peer-left":
            self.peers.pop(m["peer_id"], None)
            await self._close_link(m["peer_id"])
        elif t == "moved":
            self.subroom = m["subroom"]
            await self._close_links()
            for pid in m.get("peers", []):
                p = self.peers.get(pid)
                if p is None or self._may_link(p):
                    await self._offer(pid)
        elif t == "room":
            self.room = m["room"]
            if self.room.get("state") == "ended":
                await self._close_links()
        elif t == "removed":
            await self._close_links()
        elif t == "signal":
            await self._on_signal(m["from"], m["data"])
        self._changed.set()

    def _may_link(self, p: dict[str, Any]) -> bool:
        if p.get("system"):
            return bool(self.room.get("recording")) and self._my_consent() is True and (
                self.subroom is None or self.subroom in self.room.get("recording_subrooms", []))
        return True

    def _my_consent(self) -> bool | None:
        return self.consent

    async def set_consent(self, recording: bool) -> None:
        self.consent = recording
        await self.send({"type": "consent", "recording": recording})

    def _should_connect(self, p: dict[str, Any]) -> bool:
        if p["id"] == self.peer_id or not p.get("connected", True):
            return False
        if p.get("system"):
            return self._may_link(p)
        return p["subroom"] == self.subroom

    # ---- media ------------------------------------------------------------------------------------

    def _local_tracks(self) -> list[MediaStreamTrack]:
        if self._tracks is None:
            self._tracks = self._make_tracks() if self._make_tracks else []
        return self._tracks

    def _new_link(self, peer_id: str, offerer: bool) -> Link:
        servers = [RTCIceServer(**{k: v for k, v in s.items() if k in ("urls", "username", "credential")})
                   for s in self.ice]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers) if servers else None)
        link = Link(peer_id, pc, offerer)
        for track in self._local_tracks():
            pc.addTrack(self._relay.subscribe(track))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if self.consume:
                link.tasks.append(asyncio.create_task(self._count(link, track)))

        self.links[peer_id] = link
        return link

    async def _count(self, link: Link, track: MediaStreamTrack) -> None:
        kind = track.kind
        try:
            while True:
                await track.recv()
                link.frames[kind] += 1
                if kind == "video" and link.first_video_at is None:
                    link.first_video_at = time.perf_counter()
                    self._changed.set()
                if link.frames[kind] % 5 == 0:
                    self._changed.set()
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def _offer(self, peer_id: str) -> None:
        await self._close_link(peer_id)
        link = self._new_link(peer_id, offerer=True)
        await link.pc.setLocalDescription(await link.pc.createOffer())
        await self.send({"type": "signal", "to": peer_id, "data": {"description": {
            "type": link.pc.localDescription.type, "sdp": link.pc.localDescription.sdp}}})

    async def _on_signal(self, src: str, data: dict[str, Any]) -> None:
        link: Link | None
        desc = data.get("description")
        if desc is not None:
            if desc["type"] == "offer":
                await self._close_link(src)  # a new offer from a peer means a new connection (resume, move)
                link = self._new_link(src, offerer=False)
                await link.pc.setRemoteDescription(RTCSessionDescription(sdp=desc["sdp"], type="offer"))
                await link.pc.setLocalDescription(await link.pc.createAnswer())
                await self.send({"type": "signal", "to": src, "data": {"description": {
                    "type": link.pc.localDescription.type, "sdp": link.pc.localDescription.sdp}}})
            else:
                link = self.links.get(src)
                if link is None or link.pc.signalingState != "have-local-offer":
                    return
                await link.pc.setRemoteDescription(RTCSessionDescription(sdp=desc["sdp"], type=desc["type"]))
            for c in link.pending_candidates:
                await self._add_candidate(link, c)
            link.pending_candidates.clear()
            return
        cand = data.get("candidate")
        link = self.links.get(src)
        if cand is None or link is None:
            return
        if link.pc.remoteDescription is None:
            link.pending_candidates.append(cand)
        else:
            await self._add_candidate(link, cand)

    @staticmethod
    async def _add_candidate(link: Link, c: dict[str, Any]) -> None:
        line = c.get("candidate") or ""
        if not line:
            return
        cand = candidate_from_sdp(line.split(":", 1)[1] if line.startswith("candidate:") else line)
        cand.sdpMid = c.get("sdpMid")
        cand.sdpMLineIndex = c.get("sdpMLineIndex")
        with contextlib.suppress(Exception):
            await link.pc.addIceCandidate(cand)

    async def _close_link(self, peer_id: str) -> None:
        link = self.links.pop(peer_id, None)
        if link is None:
            return
        link.closed = True
        self.closed_links.append(link)
        for t in link.tasks:
            t.cancel()
        await link.pc.close()

    async def _close_links(self) -> None:
        for pid in list(self.links):
            await self._close_link(pid)
