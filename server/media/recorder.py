"""The recorder: a server-side aiortc peer (room role ``recorder``) that writes what it receives.

Each consenting participant offers to it exactly as to any other peer. It answers receive-only,
keeps one ``RTCPeerConnection`` per participant, and routes every received track through the
passthrough tap into a ``TrackWriter`` (WebM or Matroska segments, no transcoding). What the writers report
(segment opened/closed, failures) is brought back to the event loop and handed, in order, to a
``RecordingEvents`` implementation, which persists and ledgers it.

No aiohttp here: the room integration passes signals in and gets signals out through callables.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.sdp import candidate_from_sdp

from server.media import passthrough
from server.media.segments import MAX_SEGMENT_S, SegmentInfo, TrackInfo, TrackWriter, WriterStats

log = logging.getLogger("concord.recorder")

# VP8 first: a browser that offers both is recorded in VP8; WHIP terminals (FFmpeg, OBS) send H.264 only.
RECORDED_CODECS = {"video": ("video/VP8", "video/H264", "video/rtx"), "audio": ("audio/opus",)}
WRITTEN_CODECS = {"video": ("vp8", "h264"), "audio": ("opus",)}
MAX_SDP = 64 * 1024
MAX_PENDING_CANDIDATES = 64


@dataclass(frozen=True)
class RemotePeer:
    id: str
    name: str
    role: str


class RecordingEvents(Protocol):
    """Called on the event loop, one at a time, in the order the writers produced them."""

    async def track_started(self, track: TrackInfo) -> None: ...
    async def segment_opened(self, track: TrackInfo, seg: SegmentInfo) -> None: ...
    async def segment_closed(self, track: TrackInfo, seg: SegmentInfo) -> None: ...
    async def failed(self, track: TrackInfo, seg: SegmentInfo | None, error: str) -> None: ...
    async def resumed(self, track: TrackInfo) -> None: ...
    async def track_ended(self, track: TrackInfo, stats: WriterStats, dropped_by_tap: int) -> None: ...


class SignalError(ValueError):
    """A malformed or unexpected signal from a participant."""


class _TrackSink:
    """Bridges one track: frames arrive on aiortc's decoder thread, reports go back to the loop."""

    def __init__(self, recorder: Recorder, peer: RemotePeer, kind: str, track_id: str,
                 receiver: RTCRtpReceiver) -> None:
        self.recorder = recorder
        self.peer = peer
        self.kind = kind
        self.track_id = track_id
        self.receiver = receiver
        self.writer: TrackWriter | None = None
        self.tap: passthrough.TapQueue | None = None
        self.unsupported: str | None = None

    # Called on the decoder thread --------------------------------------------------------------------
    def start(self, codec_name: str) -> None:
        if self.writer is not None:
            return
        track = TrackInfo(
            session_id=self.recorder.session_id, peer=self.peer.id, peer_name=self.peer.name, role=self.peer.role,
            kind=self.kind, codec=codec_name, track_id=self.track_id, track_no=self.recorder._next_track_no(),
            node=self.recorder.node,
        )
        self.writer = TrackWriter(self.recorder.root, track, self, max_segment_s=self.recorder.max_segment_s)
        self.recorder._post("track_started", track)
        if codec_name not in WRITTEN_CODECS[self.kind]:
            self.unsupported = f"codec {codec_name} is not recorded (only VP8, H.264 and Opus)"
            self.recorder._post("failed", track, None, self.unsupported)

    def frame(self, data: bytes, timestamp: int, gap: bool, arrival: float) -> None:
        if self.writer is not None and self.unsupported is None:
            self.writer.write(data, timestamp, gap, arrival)

    def close(self) -> None:
        if self.writer is None:
            return
        self.writer.close()
        self.recorder._post("track_ended", self.writer.track, self.writer.stats, self.tap.dropped if self.tap else 0)

    # WriterEvents (decoder thread) -------------------------------------------------------------------
    def request_keyframe(self) -> None:
        passthrough.request_keyframe(self.receiver, self.recorder.loop)

    def segment_opened(self, track: TrackInfo, seg: SegmentInfo) -> None:
        self.recorder._post("segment_opened", track, _copy(seg))

    def segment_closed(self, track: TrackInfo, seg: SegmentInfo) -> None:
        self.recorder._post("segment_closed", track, _copy(seg))

    def failed(self, track: TrackInfo, seg: SegmentInfo | None, error: str) -> None:
        self.recorder._post("failed", track, _copy(seg) if seg else None, error)

    def resumed(self, track: TrackInfo) -> None:
        self.recorder._post("resumed", track)


def _copy(seg: SegmentInfo) -> SegmentInfo:
    return SegmentInfo(**vars(seg))


@dataclass
class _PeerConnection:
    peer: RemotePeer
    pc: RTCPeerConnection
    sinks: list[_TrackSink] = field(default_factory=list)
    pending_candidates: list[Any] = field(default_factory=list)


class Recorder:
    """The ``recorder`` peer of one session's room while recording is on."""

    def __init__(self, session_id: int, root: Path, send_signal: Callable[[str, dict], Awaitable[None]],
                 events: RecordingEvents, *, ice_servers: list[dict] | None = None, first_track_no: int = 1,
                 max_segment_s: float = MAX_SEGMENT_S, node: str = "") -> None:
        passthrough.install()
        self.session_id = session_id
        self.root = root
        self.send_signal = send_signal
        self.events = events
        self.ice_servers = ice_servers or []
        self.max_segment_s = max_segment_s
        self.node = node
        self.loop = asyncio.get_running_loop()
        self.peers: dict[str, _PeerConnection] = {}
        self._track_numbers = itertools.count(first_track_no)
        self._reports: asyncio.Queue[tuple[str, tuple]] = asyncio.Queue()
        self._reporter = asyncio.create_task(self._report_loop())
        self._closed = False

    # -- signaling ---------------------------------------------------------------------------------------

    async def handle_signal(self, peer: RemotePeer, data: Any) -> None:
        """An offer or ICE candidate from ``peer`` (the ``data`` of a contract ``signal`` message)."""
        if self._closed:
            raise SignalError("recording is off")
        if not isinstance(data, dict):
            raise SignalError("signal data must be an object")
        if "description" in data:
            await self._on_description(peer, data["description"])
        elif "candidate" in data:
            await self._on_candidate(peer, data["candidate"])
        else:
            raise SignalError("signal data needs a description or a candidate")

    async def _on_description(self, peer: RemotePeer, desc: Any) -> None:
        if not isinstance(desc, dict) or desc.get("type") != "offer" or not isinstance(desc.get("sdp"), str):
            raise SignalError("the recorder only takes offers: {type: 'offer', sdp}")
        if len(desc["sdp"]) > MAX_SDP:
            raise SignalError("SDP too large")
        conn = self.peers.get(peer.id)
        if conn is not None and conn.pc.remoteDescription is not None and \
                _ice_ufrag(conn.pc.remoteDescription.sdp) != _ice_ufrag(desc["sdp"]):
            # A fresh peer connection on the participant's side (reconnect): start a new one here too.
            await self.drop(peer.id)
            conn = None
        if conn is None:
            conn = self._new_connection(peer)
        pc = conn.pc
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=desc["sdp"], type="offer"))
            for t in pc.getTransceivers():
                caps = RTCRtpReceiver.getCapabilities(t.kind)
                assert caps is not None  # typed Optional, but aiortc raises for an unknown kind instead
                prefs = [c for c in caps.codecs if c.mimeType in RECORDED_CODECS.get(t.kind, ())]
                if prefs and t.currentDirection is None:
                    t.setCodecPreferences(prefs)
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, TypeError, AssertionError) as e:
            raise SignalError(f"cannot answer this offer: {e}") from e
        for cand in conn.pending_candidates:
            await pc.addIceCandidate(cand)
        conn.pending_candidates.clear()
        local = pc.localDescription
        await self.send_signal(peer.id, {"description": {"type": local.type, "sdp": local.sdp}})

    async def _on_candidate(self, peer: RemotePeer, cand: Any) -> None:
        conn = self.peers.get(peer.id)
        if cand is None or (isinstance(cand, dict) and not cand.get("candidate")):
            return  # end of candidates
        if not isinstance(cand, dict) or not isinstance(cand.get("candidate"), str):
            raise SignalError("candidate must be {candidate, sdpMid, sdpMLineIndex}")
        text = cand["candidate"]
        if text.startswith("candidate:"):
            text = text[len("candidate:"):]
        try:
            ice = candidate_from_sdp(text)
        except (ValueError, IndexError) as e:
            raise SignalError("malformed ICE candidate") from e
        ice.sdpMid = cand.get("sdpMid") if isinstance(cand.get("sdpMid"), str) else None
        idx = cand.get("sdpMLineIndex")
        ice.sdpMLineIndex = idx if isinstance(idx, int) and not isinstance(idx, bool) else None
        if conn is None or conn.pc.remoteDescription is None:
            if conn is None:
                conn = self._new_connection(peer)
            if len(conn.pending_candidates) < MAX_PENDING_CANDIDATES:
                conn.pending_candidates.append(ice)
            return
        await conn.pc.addIceCandidate(ice)

    def _new_connection(self, peer: RemotePeer) -> _PeerConnection:
        servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
                   for s in self.ice_servers]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers) if servers else None)
        conn = _PeerConnection(peer, pc)
        self.peers[peer.id] = conn

        @pc.on("track")
        def on_track(track: Any) -> None:
            receiver = next((t.receiver for t in pc.getTransceivers() if t.receiver.track is track), None)
            if receiver is None or track.kind not in ("audio", "video"):
                return
            sink = _TrackSink(self, peer, track.kind, track.id, receiver)
            sink.tap = passthrough.tap_receiver(receiver, track.kind, sink)
            conn.sinks.append(sink)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "failed":
                await self.drop(peer.id)

        return conn

    async def drop(self, peer_id: str) -> None:
        """Stop recording one participant (left, withdrew consent, moved out of the recorded room)."""
        conn = self.peers.pop(peer_id, None)
        if conn is not None:
            await conn.pc.close()  # stops each receiver; its tap closes the writer on aiortc's thread

    async def close(self) -> None:
        """Recording off: finish every track, then every report."""
        if self._closed:
            return
        self._closed = True
        for peer_id in list(self.peers):
            await self.drop(peer_id)
        # Through the same FIFO the decoder threads used, so their last reports come first.
        self.loop.call_soon_threadsafe(self._reports.put_nowait, ("_stop", ()))
        await self._reporter

    # -- reports -----------------------------------------------------------------------------------------

    def _next_track_no(self) -> int:
        return next(self._track_numbers)  # itertools.count is atomic under the GIL

    def _post(self, name: str, *args: Any) -> None:
        """From a decoder thread: queue a report for the event loop (a few per segment, not per frame)."""
        try:
            self.loop.call_soon_threadsafe(self._reports.put_nowait, (name, args))
        except RuntimeError:
            log.warning("recorder report %s lost: event loop closed", name)

    async def _report_loop(self) -> None:
        while True:
            name, args = await self._reports.get()
            if name == "_stop":
                return
            try:
                await getattr(self.events, name)(*args)
            except Exception:
                log.exception("recording report %s failed", name)

    @property
    def recorded_peers(self) -> list[str]:
        return list(self.peers)


def _ice_ufrag(sdp: str) -> str | None:
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line[len("a=ice-ufrag:"):].strip()
    return None
