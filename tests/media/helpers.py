"""Helpers for recording tests: a session row, aiortc senders offering to a recorder, PyAV checks."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import av
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from server.db import Database
from server.directory.models import Unit
from server.media.recorder import Recorder, RemotePeer
from server.sessions.models import Session
from tests.media.synthetic import SyntheticAudio, SyntheticVideo


async def make_session(db: Database, title: str = "测试调解") -> int:
    async with db.session() as s:
        unit = Unit(code="340321001", name="龙亢镇", tier="township", path="/340300/340321/340321001/")
        s.add(unit)
        await s.flush()
        sess = Session(kind="mediation", title=title, unit_id=unit.id, state="live", settings={})
        s.add(sess)
        await s.flush()
        return sess.id


class Sender:
    """A participant's aiortc peer that offers its synthetic tracks to the recorder."""

    def __init__(self, peer: RemotePeer, width: int = 320, height: int = 180, fps: int = 15,
                 audio: bool = True, video: bool = True, video_codec: str | None = None) -> None:
        self.peer = peer
        self.pc = RTCPeerConnection()
        self.video = SyntheticVideo(width, height, fps) if video else None
        self.audio = SyntheticAudio() if audio else None
        for t in (self.video, self.audio):
            if t is not None:
                self.pc.addTrack(t)
        if video_codec:  # offer only this video codec (e.g. "video/H264", as a WHIP terminal does)
            caps = RTCRtpSender.getCapabilities("video")
            for tr in self.pc.getTransceivers():
                if tr.kind == "video" and caps is not None:
                    tr.setCodecPreferences([c for c in caps.codecs if c.mimeType in (video_codec, "video/rtx")])

    async def offer_to(self, recorder: Recorder, answers: asyncio.Queue) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await recorder.handle_signal(self.peer, {"description": {"type": "offer",
                                                                 "sdp": self.pc.localDescription.sdp}})
        to, data = await asyncio.wait_for(answers.get(), 10)
        assert to == self.peer.id
        await self.pc.setRemoteDescription(RTCSessionDescription(**data["description"]))

    async def close(self) -> None:
        await self.pc.close()


async def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


def probe(path: Path) -> dict:
    """Open a segment with PyAV and decode it fully."""
    with av.open(str(path)) as c:
        s = c.streams[0]
        first_key = None
        frames = 0
        for packet in c.demux(s):
            if packet.size == 0:
                continue
            if first_key is None:
                first_key = packet.is_keyframe
            frames += 1
        c.seek(0)
        decoded = sum(1 for _ in c.decode(s))
        return {"codec": s.codec_context.name, "kind": s.type, "duration": (c.duration or 0) / 1e6,
                "packets": frames, "decoded": decoded, "first_keyframe": first_key}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
