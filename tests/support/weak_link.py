"""Issue 13's weak-link measurement, shared by tests/sfu/test_weak_link.py and bench/weak_link.py.

The mediator is an aiortc peer on this machine with an unimpaired path. The party is Debian's Chromium
(Playwright, headless) whose ICE is forced through TURN (``iceTransportPolicy: relay``) at the address
of an impairing UDP relay (``tests/support/impair.py``) that forwards to coturn
(``tests/support/turn.py``): every packet the party sends or receives crosses the emulated link.

- **SFU path**: the mediator publishes to a Janus VideoRoom; Python subscribes the party through
  ``server.sfu.janus`` and relays Janus's offer to the page and the page's answer back (the page never
  sees a Janus secret).
- **Mesh path**: the mediator's aiortc PeerConnection offers to the page directly (same link).

The figures come from the receiving browser's ``getStats()``: inbound-rtp video ``framesDecoded`` per
second and audio ``concealedSamples / totalSamplesReceived`` over the window, after a warm-up.

The mediator: 640x360 at 15 frames/s (a camera-like picture that uses the encoder's whole bitrate) and
a voice-like sound. Its Opus encoder is set like a browser's voice encoder (32 kbps, in-band FEC with 10% expected loss) instead of aiortc's
96 kbps without FEC: ``voice_opus``. aiortc cannot publish simulcast, so on the SFU path the room's
``bitrate`` cap (REMB from Janus; aiortc's VP8 floor is 250 kbps) keeps the single layer within the
party's link; a Chromium publisher would send three layers and the party would take substream 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder

from server.sfu.janus import JanusConnection, RoomSpec
from tests.media.synthetic import SyntheticVideo
from tests.support.impair import ImpairedRelay

NO_STUN = RTCConfiguration(iceServers=[])
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

# The page: a receive-only PeerConnection that answers an offer, forced through TURN.
PAGE = """<!doctype html><meta charset="utf-8"><title>weak link party</title>
<video id="v" autoplay muted playsinline></video><audio id="a" autoplay></audio>
<script>
window.answer = async (offer, iceServers) => {
  const pc = new RTCPeerConnection({iceServers, iceTransportPolicy: 'relay'});
  window.pc = pc;
  pc.ontrack = (e) => {
    const el = document.getElementById(e.track.kind === 'video' ? 'v' : 'a');
    el.srcObject = new MediaStream([e.track]);
    el.play().catch(() => {});
  };
  await pc.setRemoteDescription(offer);
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((ok) => {
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && ok());
      setTimeout(ok, 5000);
    });
  }
  return {type: 'answer', sdp: pc.localDescription.sdp};
};
window.inbound = async () => {
  const out = {state: window.pc ? window.pc.connectionState : 'none'};
  if (!window.pc) return out;
  const report = await window.pc.getStats();
  let pairId = null;
  report.forEach((s) => {
    if (s.type === 'inbound-rtp') out[s.kind] = s;
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    if (s.type === 'local-candidate') (out.local = out.local || []).push(s.candidateType);
  });
  const pair = pairId && report.get(pairId);
  if (pair) {
    out.selected = {local: report.get(pair.localCandidateId).candidateType,
                    remote: report.get(pair.remoteCandidateId).candidateType, rtt: pair.currentRoundTripTime};
  }
  return out;
};
</script>"""


class VoiceOpus(OpusEncoder):
    """Opus as a browser sends voice: 32 kbps with in-band FEC (``useinbandfec``), tuned for 10% loss."""

    def __init__(self) -> None:
        super().__init__()
        self.codec.bit_rate = 32000
        self.codec.options = {"application": "voip", "fec": "1", "packet_loss": "10"}


def with_opus_fec(sdp: str) -> str:
    """Declare ``useinbandfec=1`` for Opus in an aiortc SDP, as a browser's offer does (aiortc writes no
    Opus fmtp line). It is true of ``VoiceOpus``'s stream; it tells Janus and Chromium to use the FEC."""
    out = []
    for line in sdp.splitlines():
        out.append(line)
        if line.startswith("a=rtpmap:") and " opus/48000" in line.lower():
            pt = line.split(":", 1)[1].split(" ", 1)[0]
            if f"a=fmtp:{pt} " not in sdp:
                out.append(f"a=fmtp:{pt} minptime=10;useinbandfec=1")
    return "\r\n".join(out) + "\r\n"


def voice_opus(sender: RTCRtpSender) -> None:
    """Give ``sender`` (an audio sender that has not sent yet) the browser-like Opus encoder."""
    sender._RTCRtpSender__encoder = VoiceOpus()  # type: ignore[attr-defined]


class CappedVp8(Vp8Encoder):
    """aiortc's VP8 encoder that never goes above ``cap`` bits/s, whatever REMB says (aiortc has no
    sender-side congestion control: without a cap it stays at 500 kbps on a link that carries less)."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        Vp8Encoder.target_bitrate.fset(self, cap)  # type: ignore[attr-defined]

    @property  # type: ignore[override]
    def target_bitrate(self) -> int:
        return int(Vp8Encoder.target_bitrate.fget(self))  # type: ignore[attr-defined]

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        Vp8Encoder.target_bitrate.fset(self, min(bitrate, self.cap))  # type: ignore[attr-defined]


@dataclass
class Figures:
    path: str
    seconds: float
    sent_fps: float  # frames the mediator's track produced per second (a starved CPU shows here)
    video_fps: float
    frames_decoded: int
    frame_size: str
    video_kbps: float
    video_packets_lost: int
    nacks: int
    freezes: int
    plis: int  # keyframe requests the party sent
    keyframes: int
    frames_dropped: int
    audio_concealment: float  # concealedSamples / totalSamplesReceived over the window
    concealment_events: int
    audio_packets_lost: int
    audio_packets: int
    fec_packets: int
    candidate: str  # type of the party's local candidate on the selected pair ("relay": through TURN)
    gathered: str  # types of all the party's local candidates
    rtt_ms: float  # the selected pair's round trip (STUN consent checks through the link)
    link_down: dict[str, Any] = field(default_factory=dict)
    link_up: dict[str, Any] = field(default_factory=dict)

    def meets_target(self) -> bool:
        return self.video_fps >= 10 and self.audio_concealment < 0.05

    def line(self) -> str:
        return (f"{self.path}: video {self.video_fps:.1f} of {self.sent_fps:.1f} fps sent ({self.frame_size}, {self.video_kbps:.0f} kbps, "
                f"{self.video_packets_lost} lost, {self.nacks} NACKs, {self.plis} PLIs, {self.keyframes} key frames, {self.frames_dropped} dropped, "
                f"{self.freezes} freezes); audio concealed "
                f"{self.audio_concealment:.2%} ({self.concealment_events} events, {self.audio_packets_lost} of "
                f"{self.audio_packets + self.audio_packets_lost} packets lost, {self.fec_packets} FEC); "
                f"candidate {self.candidate}, RTT {self.rtt_ms:.0f} ms; link down: {self.link_down}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CameraLikeVideo(SyntheticVideo):
    """A picture that costs bits like a camera's: a textured scene panning slowly, a moving bar and fresh
    sensor noise in every frame, so the VP8 encoder spends its whole target bitrate (the plain
    ``SyntheticVideo`` compresses to ~80 kbps at 640x360 and would leave a 500 kbps link idle)."""

    def __init__(self, width: int = 640, height: int = 360, fps: int = 15, cycle: int = 30) -> None:
        super().__init__(width=16, height=16, fps=fps, cycle=1)
        rng = np.random.default_rng(13)
        scene = rng.integers(0, 256, (height // 8 + 1, (width + cycle * 4) // 8 + 1, 3), dtype=np.uint8)
        scene = np.kron(scene, np.ones((8, 8, 1), np.uint8))  # 8x8 blocks: texture motion can predict
        self._images = []
        for i in range(cycle):
            img = scene[:height, i * 4:i * 4 + width].astype(np.int16)
            img = img + rng.integers(-10, 11, img.shape, dtype=np.int16)
            x = (i * width // cycle) % width
            img[:, x:x + width // 16] = (230, 200, 30)
            frame = np.clip(img, 0, 255).astype(np.uint8)
            self._images.append(av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p"))


class SyntheticVoice(MediaStreamTrack):
    """A voice-like sound in 20 ms frames at 48 kHz: a harmonic series on a gliding 110-170 Hz pitch
    with a syllable rhythm (2 per second) that never falls silent, plus a little noise. Opus's voice
    activity detector counts it as speech, so the encoder adds FEC to every frame; a pure tone (as in
    ``SyntheticAudio``) is classified as non-speech and gets none."""

    kind = "audio"

    def __init__(self, seconds: int = 4) -> None:
        super().__init__()
        self.frames_sent = 0
        self._start: float | None = None
        t = np.arange(48000 * seconds) / 48000
        f0 = 140 + 30 * np.sin(2 * np.pi * t / seconds)
        phase = 2 * np.pi * np.cumsum(f0) / 48000
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
        envelope = 0.35 + 0.65 * np.abs(np.sin(2 * np.pi * t))
        noise = np.random.default_rng(13).standard_normal(t.size) * 0.02
        sig = voiced * envelope + noise
        self._pcm = (sig / np.abs(sig).max() * 12000).astype(np.int16)
        self._frames = self._pcm.size // 960

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.time()
        n = self.frames_sent
        wait = self._start + n * 0.02 - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        i = n % self._frames
        frame = av.AudioFrame.from_ndarray(self._pcm[i * 960:(i + 1) * 960].reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate = 48000
        frame.pts = n * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self.frames_sent += 1
        return frame


class Mediator:
    """The aiortc mediator's media: video + tone, fresh tracks per PeerConnection."""

    def __init__(self, width: int = 640, height: int = 360, fps: int = 15, video_cap: int | None = None) -> None:
        self.pc = RTCPeerConnection(NO_STUN)
        self.video = CameraLikeVideo(width, height, fps=fps)
        self.audio = SyntheticVoice()
        voice_opus(self.pc.addTrack(self.audio))
        video = self.pc.addTrack(self.video)
        if video_cap is not None:
            video._RTCRtpSender__encoder = CappedVp8(video_cap)  # type: ignore[attr-defined]

    async def close(self) -> None:
        await self.pc.close()


class Party:
    """The Chromium page behind the weak link."""

    def __init__(self, browser: Any, relay: ImpairedRelay, username: str, password: str) -> None:
        self.browser = browser
        self.relay = relay
        host, port = relay.address
        self.ice = [{"urls": [f"turn:{host}:{port}?transport=udp"], "username": username, "credential": password}]
        self.context: Any = None
        self.page: Any = None

    async def open(self) -> None:
        self.context = await self.browser.new_context()
        self.page = await self.context.new_page()
        await self.page.set_content(PAGE)

    async def answer(self, offer: dict[str, str]) -> dict[str, str]:
        return dict(await self.page.evaluate("([o, i]) => window.answer(o, i)", [offer, self.ice]))

    async def stats(self) -> dict[str, Any]:
        return dict(await self.page.evaluate("() => window.inbound()"))

    async def wait_flowing(self, timeout: float = 40.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        s: dict[str, Any] = {}
        while time.monotonic() < deadline:
            s = await self.stats()
            if s.get("video", {}).get("framesDecoded", 0) > 0 and s.get("audio", {}).get("totalSamplesReceived", 0):
                return s
            await asyncio.sleep(0.5)
        raise AssertionError(f"no media reached the party behind the weak link in {timeout:g} s: {s}")

    async def close(self) -> None:
        if self.context is not None:
            await self.context.close()


def _link(shaper: Any, seconds: float) -> dict[str, Any]:
    st = shaper.stats
    return {"offered": st.offered, "lost": st.lost, "overflow": st.overflow, "delivered": st.delivered,
            "kbps": round(st.delivered_bytes * 8 / seconds / 1000), "max_queue": st.max_queue_bytes}


async def measure(party: Party, mediator: Mediator, path: str, warmup: float, seconds: float) -> Figures:
    await party.wait_flowing()
    await asyncio.sleep(warmup)
    relay = party.relay
    assert relay.up is not None and relay.down is not None
    base_down = asdict(relay.down.stats)
    base_up = asdict(relay.up.stats)
    a = await party.stats()
    sent0 = mediator.video.frames_sent
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    b = await party.stats()
    dt = time.monotonic() - t0
    sent = mediator.video.frames_sent - sent0

    def d(kind: str, key: str) -> float:
        return float(b.get(kind, {}).get(key, 0) or 0) - float(a.get(kind, {}).get(key, 0) or 0)

    def delta_link(now: Any, base: dict[str, Any]) -> dict[str, Any]:
        st = now.stats
        return {"lost": st.lost - base["lost"], "overflow": st.overflow - base["overflow"],
                "offered": st.offered - base["offered"],
                "kbps": round((st.delivered_bytes - base["delivered_bytes"]) * 8 / dt / 1000),
                "max_queue": st.max_queue_bytes}

    total = d("audio", "totalSamplesReceived")
    video = b.get("video", {})
    selected = b.get("selected") or {}
    return Figures(
        path=path, seconds=round(dt, 1), sent_fps=sent / dt, video_fps=d("video", "framesDecoded") / dt,
        frames_decoded=int(d("video", "framesDecoded")),
        frame_size=f"{video.get('frameWidth', 0)}x{video.get('frameHeight', 0)}",
        video_kbps=d("video", "bytesReceived") * 8 / dt / 1000,
        video_packets_lost=int(d("video", "packetsLost")), nacks=int(d("video", "nackCount")),
        freezes=int(d("video", "freezeCount")), plis=int(d("video", "pliCount")),
        keyframes=int(d("video", "keyFramesDecoded")), frames_dropped=int(d("video", "framesDropped")),
        audio_concealment=d("audio", "concealedSamples") / total if total else 1.0,
        concealment_events=int(d("audio", "concealmentEvents")),
        audio_packets_lost=int(d("audio", "packetsLost")), audio_packets=int(d("audio", "packetsReceived")),
        fec_packets=int(d("audio", "fecPacketsReceived")),
        candidate=str(selected.get("local", "")), gathered=",".join(sorted(set(b.get("local") or []))),
        rtt_ms=float(selected.get("rtt") or 0) * 1000,
        link_down=delta_link(relay.down, base_down), link_up=delta_link(relay.up, base_up))


async def run_sfu(browser: Any, relay: ImpairedRelay, turn_user: str, turn_password: str, ws_url: str,
                  api_secret: str, admin_key: str, *, warmup: float = 5.0, seconds: float = 15.0,
                  room_bitrate: int = 300_000, fir_freq: int = 10) -> Figures:
    """The mediator publishes to Janus; the party subscribes through the weak link."""
    async with await JanusConnection.connect(ws_url, api_secret) as conn:
        session = await conn.create_session()
        control = await session.attach_videoroom()
        spec = RoomSpec(room=f"weak-{secrets.token_hex(5)}", secret=secrets.token_urlsafe(16), publishers=4,
                        bitrate=room_bitrate, fir_freq=fir_freq)
        await control.create_room(spec, admin_key=admin_key)
        mediator = Mediator()
        party = Party(browser, relay, turn_user, turn_password)
        try:
            pub = await session.attach_videoroom()
            joined = await pub.join_publisher(spec.room, display="调解员")
            await mediator.pc.setLocalDescription(await mediator.pc.createOffer())
            ans = await pub.publish({"type": "offer", "sdp": with_opus_fec(mediator.pc.localDescription.sdp)})
            await mediator.pc.setRemoteDescription(RTCSessionDescription(ans["sdp"], ans["type"]))
            await pub.next_event(lambda e: e.janus == "webrtcup", timeout=30)

            await party.open()
            sub = await session.attach_videoroom()
            _, offer = await sub.join_subscriber(spec.room, [{"feed": str(joined["id"])}])
            answer = await party.answer({"type": offer["type"], "sdp": offer["sdp"]})
            await sub.start(answer)
            return await measure(party, mediator, "SFU (Janus)", warmup, seconds)
        finally:
            await party.close()
            await mediator.close()
            with contextlib.suppress(Exception):
                await control.destroy_room(spec.room, secret=spec.secret)


async def run_mesh(browser: Any, relay: ImpairedRelay, turn_user: str, turn_password: str, *,
                   warmup: float = 5.0, seconds: float = 15.0, video_cap: int | None = None) -> Figures:
    """The mediator's aiortc PeerConnection offers straight to the party (peer-to-peer, same link).
    ``video_cap``: the VP8 encoder's ceiling (None: aiortc's own 500 kbps start and REMB)."""
    mediator = Mediator(video_cap=video_cap)
    party = Party(browser, relay, turn_user, turn_password)
    try:
        await party.open()
        await mediator.pc.setLocalDescription(await mediator.pc.createOffer())
        answer = await party.answer({"type": "offer", "sdp": with_opus_fec(mediator.pc.localDescription.sdp)})
        await mediator.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        label = "mesh" if video_cap is None else f"mesh {video_cap // 1000}k"
        return await measure(party, mediator, label, warmup, seconds)
    finally:
        await party.close()
        await mediator.close()
