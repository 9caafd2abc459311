"""Real aiortc peers that publish to and subscribe from Janus's VideoRoom through ``server.sfu.janus``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from server.sfu.janus import Feed, JanusSession, VideoRoomHandle
from tests.media.synthetic import SyntheticAudio, SyntheticVideo

# aiortc falls back to a public STUN server when given no configuration: these tests reach nothing outside.
NO_STUN = RTCConfiguration(iceServers=[])


class Publisher:
    """A participant sending a synthetic video and a 440 Hz tone. It obeys no mute message: the only
    way to silence it is on the server."""

    def __init__(self, session: JanusSession, room: str, name: str) -> None:
        self.session = session
        self.room = room
        self.name = name
        self.pc = RTCPeerConnection(NO_STUN)
        self.video = SyntheticVideo(160, 90, fps=15)
        self.audio = SyntheticAudio()
        self.pc.addTrack(self.audio)
        self.pc.addTrack(self.video)
        self.handle: VideoRoomHandle | None = None
        self.id = ""
        self.private_id = 0

    async def publish(self) -> Feed:
        self.handle = await self.session.attach_videoroom()
        joined = await self.handle.join_publisher(self.room, display=self.name)
        self.id = str(joined["id"])
        self.private_id = int(joined["private_id"])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.handle.publish({"type": "offer", "sdp": self.pc.localDescription.sdp})
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        # Janus lists the feed for subscribers only once the publisher's PeerConnection is up.
        await self.handle.next_event(lambda e: e.janus == "webrtcup", timeout=30)
        return Feed(self.id, self.name, ())

    async def close(self) -> None:
        await self.pc.close()
        if self.handle is not None:
            with contextlib.suppress(Exception):
                await self.handle.detach()


class Subscriber:
    """Subscribes to feeds and counts the frames it decodes per kind, with the time of the last one."""

    def __init__(self, session: JanusSession, room: str) -> None:
        self.session = session
        self.room = room
        self.pc = RTCPeerConnection(NO_STUN)
        self.handle: VideoRoomHandle | None = None
        self.frames = {"audio": 0, "video": 0}
        self.by_mid: dict[str, int] = {}
        self.last = {"audio": 0.0, "video": 0.0}
        self.streams: list[dict] = []
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track) -> None:  # type: ignore[no-untyped-def]
            self._tasks.append(asyncio.create_task(self._drain(track)))

    async def _drain(self, track) -> None:  # type: ignore[no-untyped-def]
        mid = next((str(t.mid) for t in self.pc.getTransceivers() if t.receiver.track is track), "?")
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                self.frames[track.kind] += 1
                self.by_mid[mid] = self.by_mid.get(mid, 0) + 1
                self.last[track.kind] = time.monotonic()

    async def subscribe(self, feeds: list[str], private_id: int | None = None) -> None:
        self.handle = await self.session.attach_videoroom()
        attached, offer = await self.handle.join_subscriber(self.room, [{"feed": f} for f in feeds],
                                                            private_id=private_id)
        self.streams = list(attached.get("streams") or [])
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.handle.start({"type": "answer", "sdp": self.pc.localDescription.sdp})

    async def update(self, subscribe: Sequence[str] = (), unsubscribe: Sequence[str] = ()) -> None:
        """Change the subscribed feeds and renegotiate (Janus offers, we answer with ``start``)."""
        assert self.handle is not None
        updated, offer = await self.handle.update_subscription(
            subscribe=[{"feed": f} for f in subscribe], unsubscribe=[{"feed": f} for f in unsubscribe])
        self.streams = list(updated.get("streams") or [])
        assert offer is not None and offer["type"] == "offer"
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.handle.start({"type": "answer", "sdp": self.pc.localDescription.sdp})

    def mid(self, kind: str, feed: str | None = None) -> str:
        return next(str(s["mid"]) for s in self.streams
                    if s.get("type") == kind and (feed is None or str(s.get("feed_id")) == feed)
                    and s.get("active", True))

    async def wait_mid(self, mid: str, count: int, timeout: float = 30.0) -> None:
        target = self.by_mid.get(mid, 0) + count
        deadline = time.monotonic() + timeout
        while self.by_mid.get(mid, 0) < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"stream {mid}: {self.by_mid.get(mid, 0)} frames, wanted {target}")
            await asyncio.sleep(0.05)

    async def wait_frames(self, kind: str, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` more frames of ``kind`` arrived."""
        target = self.frames[kind] + count
        deadline = time.monotonic() + timeout
        while self.frames[kind] < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.frames[kind] - target + count} of {count} {kind} frames "
                                     f"in {timeout:g} s")
            await asyncio.sleep(0.05)

    async def wait_silence(self, kind: str, quiet_s: float, timeout: float = 20.0) -> None:
        """Until no frame of ``kind`` arrived for ``quiet_s`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.last[kind] < quiet_s:
            if time.monotonic() > deadline:
                raise AssertionError(f"{kind} frames still arriving after {timeout:g} s")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.pc.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.handle is not None:
            with contextlib.suppress(Exception):
                await self.handle.detach()
