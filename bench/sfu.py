"""SFU on Janus (issue 13): fan-out of a 720p simulcast publisher, the same fan-out through an aiortc relay,
and join to first frame against the mesh.

    python bench/sfu.py                  # the full run (about 5 minutes)
    python bench/sfu.py --quick          # a smoke run: 2 and 4 subscribers, short windows (about 1.5 minutes)
    python bench/sfu.py --counts 10,25 --window 10 --relay-max 4 --join-runs 5

Everything runs on this machine: its own Janus 1.1 (``server.sfu.process``, generated config, random
secrets), driven through ``server.sfu.janus`` by this process, which plays Concord's part.

1. **Publisher.** Debian's Chromium (Playwright, fake camera 1280x720 at ``--fps``, fake microphone)
   publishes three simulcast layers (rids h/m/l, highest first as Janus reads them: 1280x720, 640x360,
   320x180; at most 2.5 Mbit/s, 500 kbit/s, 150 kbit/s). The page makes the SDP offer; this process hands it to Janus with the VideoRoom
   ``publish`` request and gives Janus's answer back to the page: the browser never holds a Janus secret.
   An encoded transform in the page appends a 20-byte trailer to every encoded video frame: magic, the
   layer's SSRC, a per-layer frame number and the send time (``Date.now()``, the system clock).
2. **Subscribers** run in separate worker processes (``--per-worker`` PeerConnections each, aiortc, no
   STUN). They receive and never decode: the worker replaces aiortc's RTP packet handler by one that keeps
   the receive statistics and NACKs and counts the packet (no depacketising, jitter buffer or decoder); a
   video frame counts when its last (marker) packet arrived with none missing since the previous frame.
   Janus gives every subscriber the highest layer (VideoRoom's default). Per subscriber count (``--counts``,
   10/25/50; subscribers are added to the ones already there), after a settling pause, over ``--window``
   seconds of send time:
   - Janus CPU: utime+stime of the Janus process from /proc over the window, as % of one core, divided by
     the subscribers; also the marginal figure (minus the same window with no subscriber);
   - frames: video frames each subscriber got whose send time falls in the window, against the frames the
     browser sent in that window on its busiest layer (the page's own count; all layers carry the same
     frames); frame rate min/median;
   - loss: RTP packets lost / expected on the subscribers' video streams (aiortc receiver statistics);
   - delay publish → receipt: arrival of the frame's last packet minus the trailer's send time (from the
     encoder's output, before packetisation and pacing, to the moment the subscriber has the whole frame),
     both read from the same system clock;
   - join to first frame: from each subscriber's join request to its first complete video frame.
3. **aiortc relay**, same run, same page: the browser publishes one 720p layer to a Python process that
   forwards it with ``aiortc.contrib.media.MediaRelay`` (decode once, one encoder per subscriber: what a
   Python SFU on aiortc does) to aiortc subscribers in the same worker processes, 1, 2, 3, 4, 6, 8, ...
   subscribers until the median subscriber gets under half of the frames sent or under half the asked
   frame rate (``--relay-max``). Relay CPU
   per subscriber as above; frames counted by arrival time in the window (the relay re-encodes, so the
   trailer does not survive and no delay is measured there).
4. **Join to first frame, SFU against mesh**: two aiortc peers (320x240 15 fps, decoded), each publishing
   to Janus and subscribing to the other, until both decoded a frame of the other; beside the same two peers
   connected directly (``bench/join.py``'s ``direct_once``, the mesh's PeerConnection). Alternating runs;
   neither includes Concord's own signaling (measured in bench/join.py).

Prints every figure with its baseline and ratio, peak RSS of Janus, of this process, of the workers, of the
relay; writes bench/out/sfu.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.sfu.janus import JanusConnection, JanusSession, RoomSpec  # noqa: E402
from server.sfu.jcfg import JanusConfig  # noqa: E402
from server.sfu.process import JanusProcess, free_ports, janus_binary, local_ipv4  # noqa: E402

MAGIC = 0x434F4E43  # "CONC"
TRAILER = struct.Struct("!IIId")  # magic, layer SSRC, frame number in that layer, send time (ms since epoch)
CLK_TCK = os.sysconf("SC_CLK_TCK")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless=new", "--use-fake-ui-for-media-stream",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
]

PAGE = r"""<!doctype html><html><head><meta charset="utf-8"><title>sfu bench publisher</title></head><body><script>
const MAGIC = 0x434F4E43;
let stream = null, pc = null;
const sent = {};  // SSRC -> send times (ms) of its encoded video frames, index = frame number
async function startMedia(fps) {
  stream = await navigator.mediaDevices.getUserMedia(
    {audio: true, video: {width: {exact: 1280}, height: {exact: 720}, frameRate: {ideal: fps}}});
  return stream.getVideoTracks()[0].getSettings();
}
function gathered(p) {
  return new Promise(ok => {
    if (p.iceGatheringState === 'complete') return ok();
    p.addEventListener('icegatheringstatechange', () => { if (p.iceGatheringState === 'complete') ok(); });
  });
}
function mark(frame, ctl) {
  const ssrc = frame.getMetadata().synchronizationSource;
  const list = sent[ssrc] || (sent[ssrc] = []);
  const t = Date.now();
  const old = new Uint8Array(frame.data);
  const buf = new ArrayBuffer(old.length + 20);
  new Uint8Array(buf).set(old);
  const dv = new DataView(buf, old.length);
  dv.setUint32(0, MAGIC); dv.setUint32(4, ssrc); dv.setUint32(8, list.length); dv.setFloat64(12, t);
  list.push(t);
  frame.data = buf;
  ctl.enqueue(frame);
}
async function offer(simulcast, marked) {
  if (pc) pc.close();
  pc = new RTCPeerConnection({iceServers: [], encodedInsertableStreams: marked});
  const a = pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly'});
  const enc = simulcast
    // Highest first, as janus.js does: Janus 1.1 reads the rids of a=simulcast from the highest layer down
    // (with l;m;h its "substream 2", the top one, is the 320x180 layer).
    ? [{rid: 'h', scaleResolutionDownBy: 1, maxBitrate: 2500000},
       {rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 500000},
       {rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 150000}]
    : [{maxBitrate: 2500000}];
  const v = pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', sendEncodings: enc});
  if (!simulcast) {
    // aiortc's receiver estimates bandwidth low (REMB only); keep 1280x720 and give up frame rate instead, so
    // the relay decodes and re-encodes what Janus forwards.
    const p = v.sender.getParameters();
    p.degradationPreference = 'maintain-resolution';
    try { await v.sender.setParameters(p); } catch (e) { stream.getVideoTracks()[0].contentHint = 'detail'; }
  }
  if (marked) {
    const as = a.sender.createEncodedStreams();
    as.readable.pipeTo(as.writable);
    const vs = v.sender.createEncodedStreams();
    vs.readable.pipeThrough(new TransformStream({transform: mark})).pipeTo(vs.writable);
  }
  await pc.setLocalDescription();
  await gathered(pc);
  return pc.localDescription.sdp;
}
async function answer(sdp) { await pc.setRemoteDescription({type: 'answer', sdp}); }
async function outbound() {
  const out = [];
  (await pc.getStats()).forEach(s => {
    if (s.type === 'outbound-rtp' && s.kind === 'video')
      out.push({rid: s.rid || '', ssrc: s.ssrc, framesSent: s.framesSent || 0, framesEncoded: s.framesEncoded || 0,
                width: s.frameWidth || 0, height: s.frameHeight || 0, fps: s.framesPerSecond || 0,
                limit: s.qualityLimitationReason || '', bytesSent: s.bytesSent || 0,
                target: s.targetBitrate || 0, active: s.active});
  });
  return out;
}
function sentAll(t0, t1) {
  const out = {};
  for (const ssrc in sent) out[ssrc] = sentIn(ssrc, t0, t1);
  return out;
}
function sentIn(ssrc, t0, t1) { return (sent[ssrc] || []).filter(t => t >= t0 && t <= t1).length; }
function stop() { if (pc) pc.close(); pc = null; }
</script></body></html>"""


# ---------------------------------------------------------------- small helpers

def proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_queue_wait(pid: int) -> float:
    """Seconds the process's threads spent runnable but waiting for a CPU (/proc/<pid>/task/*/schedstat)."""
    total = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int((t / "schedstat").read_text().split()[1])
    return total / 1e9


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def no_stun() -> Any:
    from aiortc import RTCConfiguration

    return RTCConfiguration(iceServers=[])  # aiortc falls back to a public STUN server otherwise


# ---------------------------------------------------------------- subscriber worker (separate process)

class Rx:
    """What one subscriber's receiver got: video frames (complete ones, by RTP marker) and audio packets."""

    def __init__(self) -> None:
        self.video: list[tuple[float, float, int, int]] = []  # (arrival s, send s or -1, layer SSRC, frame no)
        self.audio = 0
        self.first_video: float | None = None
        self.incomplete = 0
        self._marker: int | None = None  # RTP sequence number of the last frame's last packet
        self._packets = 0  # packets since then

    def packet(self, packet: Any, now: float) -> None:
        if self.first_video is None:
            self.first_video = now
        self._packets += 1
        if not packet.marker:
            return
        # A frame ends with its marker packet; it is complete when every sequence number since the previous
        # frame's marker arrived (a retransmission arriving after the marker counts it as incomplete).
        seq = packet.sequence_number
        complete = self._marker is not None and ((seq - self._marker) & 0xFFFF) == self._packets
        self._marker, self._packets = seq, 0
        if not complete:
            self.incomplete += 1
            return
        data = packet.payload
        if len(data) >= TRAILER.size:
            magic, ssrc, n, sent_ms = TRAILER.unpack_from(data, len(data) - TRAILER.size)
            if magic == MAGIC:
                self.video.append((now, sent_ms / 1000, ssrc, n))
                return
        self.video.append((now, -1.0, 0, 0))


RX: dict[int, Rx] = {}  # id(RTCRtpReceiver) -> Rx


def receive_only() -> None:
    """Make aiortc's receivers count instead of decode.

    ``RTCRtpReceiver._handle_rtp_packet`` is replaced by one that keeps aiortc's receive statistics (packets,
    loss, jitter, for its receiver reports) and NACKs, then counts the packet: no depacketising, jitter
    buffer, decoder thread or decoding. What remains per packet is what any receiver pays: UDP, ICE, SRTP,
    RTP parsing, RTCP. The encoded frame's trailer sits at the end of its last (marker) packet's payload.
    """
    from aiortc import rtcrtpreceiver

    cls = rtcrtpreceiver.RTCRtpReceiver

    async def handle(self: Any, packet: Any, arrival_time_ms: int) -> None:
        now = time.time()
        if not self._enabled:
            return
        codec = self._RTCRtpReceiver__codecs.get(packet.payload_type)
        if codec is None:
            return
        streams = self._RTCRtpReceiver__remote_streams
        if packet.ssrc not in streams:
            streams[packet.ssrc] = rtcrtpreceiver.StreamStatistics(codec.clockRate)
        streams[packet.ssrc].add(packet)
        if rtcrtpreceiver.is_rtx(codec):
            return
        nacks = self._RTCRtpReceiver__nack_generator
        if nacks is not None and nacks.add(packet):
            await self._send_rtcp_nack(packet.ssrc, sorted(nacks.missing))
        rx = RX.setdefault(id(self), Rx())
        if codec.name == "opus":
            rx.audio += 1
        else:
            rx.packet(packet, now)

    cls._handle_rtp_packet = handle  # type: ignore[method-assign]

    # A 1 MiB socket receive buffer per subscriber (the default is 208 KiB): on the shared machine a worker
    # process is sometimes descheduled for tens of milliseconds, and 10 subscribers of 2.5 Mbit/s each fill
    # the default buffer in that time.
    import socket

    from aioice import ice

    made = ice.StunProtocol.connection_made

    def connection_made(self: Any, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        made(self, transport)

    ice.StunProtocol.connection_made = connection_made  # type: ignore[method-assign]


class Sub:
    def __init__(self) -> None:
        from aiortc import RTCPeerConnection

        self.pc = RTCPeerConnection(no_stun())
        self.t_join = time.time()
        self.rx: Rx | None = None
        self.handle: Any = None
        self.mark_stats = (0, 0)

    def bind(self) -> None:
        for t in self.pc.getTransceivers():
            if t.kind == "video":
                self.rx = RX.setdefault(id(t.receiver), Rx())

    async def video_stats(self) -> tuple[int, int]:
        """(packets received, packets lost) on the video stream, from aiortc's receiver statistics."""
        for t in self.pc.getTransceivers():
            if t.kind == "video":
                for s in (await t.receiver.getStats()).values():
                    if s.type == "inbound-rtp":
                        return int(s.packetsReceived), int(s.packetsLost)
        return 0, 0


async def worker_main() -> None:
    import aiohttp
    from aiortc import RTCSessionDescription

    receive_only()
    subs: list[Sub] = []
    conn: JanusConnection | None = None
    session: JanusSession | None = None
    http = aiohttp.ClientSession()
    t_mark = 0.0
    cpu_mark = 0.0
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    async def wait_first(new: list[Sub], timeout: float) -> list[float | None]:
        deadline = time.time() + timeout
        while time.time() < deadline and any(s.rx is None or s.rx.first_video is None for s in new):
            for s in new:
                if s.rx is None:
                    s.bind()
            await asyncio.sleep(0.05)
        return [(s.rx.first_video - s.t_join) if s.rx and s.rx.first_video else None for s in new]

    async def janus_sub(cmd: dict[str, Any]) -> Sub:
        assert session is not None
        s = Sub()
        s.handle = await session.attach_videoroom()
        _, offer = await s.handle.join_subscriber(cmd["room"], [{"feed": cmd["feed"]}])
        await s.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await s.pc.setLocalDescription(await s.pc.createAnswer())
        s.bind()
        await s.handle.start({"type": "answer", "sdp": s.pc.localDescription.sdp})
        return s

    async def relay_sub(cmd: dict[str, Any]) -> Sub:
        s = Sub()
        s.pc.addTransceiver("audio", direction="recvonly")
        s.pc.addTransceiver("video", direction="recvonly")
        await s.pc.setLocalDescription(await s.pc.createOffer())
        async with http.post(cmd["url"] + "/subscribe", json={"sdp": s.pc.localDescription.sdp}) as r:
            ans = await r.json()
        await s.pc.setRemoteDescription(RTCSessionDescription(ans["sdp"], "answer"))
        s.bind()
        return s

    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op in ("janus", "relay"):
                if op == "janus" and conn is None:
                    conn = await JanusConnection.connect(cmd["ws"], cmd["secret"], timeout=30)
                    session = await conn.create_session()
                make = janus_sub if op == "janus" else relay_sub
                made = await asyncio.gather(*(make(cmd) for _ in range(cmd["n"])), return_exceptions=True)
                new = [m for m in made if isinstance(m, Sub)]
                errors = [f"{m.__class__.__name__}: {m}" for m in made if not isinstance(m, Sub)]
                subs.extend(new)
                first: list[float | None] = await wait_first(new, cmd.get("timeout", 30))
                reply({"ok": True, "first": first + [None] * len(errors), "errors": errors})
            elif op == "answer":  # a direct link from the browser (the mesh baseline)
                s = Sub()
                await s.pc.setRemoteDescription(RTCSessionDescription(cmd["sdp"], "offer"))
                await s.pc.setLocalDescription(await s.pc.createAnswer())
                s.bind()
                subs.append(s)
                reply({"ok": True, "sdp": s.pc.localDescription.sdp})
            elif op == "mark":
                t_mark, cpu_mark = time.time(), self_cpu()
                for s in subs:
                    s.mark_stats = await s.video_stats()
                reply({"ok": True, "t": t_mark})
            elif op == "report":
                t0, t1, by_send = cmd["t0"], cmd["t1"], cmd["by_send"]
                out = []
                for s in subs:
                    rx = s.rx or Rx()
                    if by_send:
                        win = [v for v in rx.video if t0 <= v[1] <= t1]
                    else:
                        win = [v for v in rx.video if t0 <= v[0] <= t1]
                    delays = sorted((v[0] - v[1]) * 1000 for v in win if v[1] > 0)
                    rcv, lost = await s.video_stats()
                    d_rcv, d_lost = rcv - s.mark_stats[0], lost - s.mark_stats[1]
                    out.append({"frames": len(win), "layers": sorted({v[2] for v in win}),
                                "delay_p50": pct(delays, 0.5) if delays else None,
                                "delay_p95": pct(delays, 0.95) if delays else None,
                                "delay_max": delays[-1] if delays else None,
                                "delays": delays[:: max(1, len(delays) // 200)],
                                "packets": d_rcv, "lost": d_lost, "audio": rx.audio,
                                "incomplete": rx.incomplete})
                reply({"ok": True, "subs": out, "cpu": self_cpu() - cpu_mark, "wall": time.time() - t_mark,
                       "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
            elif op == "close":
                for s in subs:
                    await s.pc.close()
                    if s.handle is not None:
                        with contextlib.suppress(Exception):
                            await s.handle.detach()
                subs.clear()
                RX.clear()
                reply({"ok": True})
            elif op == "exit":
                break
        except Exception as e:  # report, keep serving: the bench decides
            reply({"ok": False, "error": f"{e.__class__.__name__}: {e}"})
    if conn is not None:
        await conn.close()
    await http.close()


class Worker:
    """One subscriber process, driven over JSON lines on its stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.n = 0
        self.lock = asyncio.Lock()

    @classmethod
    async def spawn(cls) -> Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), "--worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=64 * 1024 * 1024)
        return cls(proc)

    async def call(self, **cmd: Any) -> dict[str, Any]:
        async with self.lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            await self.proc.stdin.drain()
            line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.proc.pid} exited ({await self.proc.wait()})")
        r = json.loads(line)
        if not r.get("ok"):
            raise RuntimeError(f"worker {self.proc.pid}: {r.get('error')}")
        return r

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call(op="exit"), 10)
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()


class Pool:
    def __init__(self, per_worker: int) -> None:
        self.per_worker = per_worker
        self.workers: list[Worker] = []
        self.hwm: dict[int, float] = {}

    async def add(self, total: int, **cmd: Any) -> list[float | None]:
        """Grow to ``total`` subscribers, filling workers ``per_worker`` at a time."""
        calls = []
        have = sum(w.n for w in self.workers)
        while have < total:
            w = next((w for w in self.workers if w.n < self.per_worker), None)
            if w is None:
                w = await Worker.spawn()
                self.workers.append(w)
            k = min(self.per_worker - w.n, total - have)
            w.n += k
            have += k
            calls.append(w.call(n=k, **cmd))
        firsts: list[float | None] = []
        for r in await asyncio.gather(*calls):
            firsts += r["first"]
            for e in r.get("errors", []):
                print(f"  a subscriber failed to join: {e}", flush=True)
        return firsts

    def busy(self) -> list[Worker]:
        return [w for w in self.workers if w.n]

    async def each(self, **cmd: Any) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(w.call(**cmd) for w in self.workers)))

    def note_rss(self) -> None:
        for w in self.workers:
            with contextlib.suppress(OSError):
                self.hwm[w.proc.pid] = proc_hwm_mb(w.proc.pid)

    async def close_subs(self) -> None:
        self.note_rss()
        await self.each(op="close")
        for w in self.workers:
            w.n = 0

    async def stop(self) -> None:
        self.note_rss()
        await asyncio.gather(*(w.stop() for w in self.workers))


# ---------------------------------------------------------------- the aiortc relay (separate process)

async def relay_main() -> None:
    from aiohttp import web
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRelay

    relay = MediaRelay()
    source: dict[str, Any] = {}
    subs: list[Any] = []
    pubs: list[Any] = []
    got = {"video": 0}

    async def sink(track: Any) -> None:  # keeps the source read when nobody subscribes; counts its frames
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                got[track.kind] = got.get(track.kind, 0) + 1

    async def publish(request: web.Request) -> web.Response:
        offer = await request.json()
        pc = RTCPeerConnection(no_stun())
        pubs.append(pc)

        @pc.on("track")
        def on_track(track: Any) -> None:
            source[track.kind] = track
            asyncio.ensure_future(sink(relay.subscribe(track, buffered=False)))

        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp})

    async def subscribe(request: web.Request) -> web.Response:
        offer = await request.json()
        pc = RTCPeerConnection(no_stun())
        subs.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        for kind in ("audio", "video"):
            if kind in source:
                pc.addTrack(relay.subscribe(source[kind], buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"frames_in": got.get("video", 0), "subs": len(subs)})

    app = web.Application()
    app.add_routes([web.post("/publish", publish), web.post("/subscribe", subscribe), web.get("/stats", stats)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_ports(1)[0]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()


# ---------------------------------------------------------------- join to first frame: SFU pair vs mesh

async def sfu_pair_once(session: JanusSession, room: str, w: int, h: int) -> float:
    from tests.media.synthetic import SyntheticVideo
    from tests.sfu.peers import Publisher, Subscriber

    t0 = time.perf_counter()
    pubs = [Publisher(session, room, n) for n in ("a", "b")]
    for p in pubs:
        big = SyntheticVideo(w, h, 15)
        for s in p.pc.getSenders():
            if s.track is p.video:
                s.replaceTrack(big)
        p.video.stop()
        p.video = big
    subs: list[Any] = []
    try:
        await asyncio.gather(*(p.publish() for p in pubs))
        subs = [Subscriber(session, room), Subscriber(session, room)]
        await asyncio.gather(subs[0].subscribe([pubs[1].id]), subs[1].subscribe([pubs[0].id]))
        await asyncio.gather(*(s.wait_frames("video", 1, timeout=30) for s in subs))
        return time.perf_counter() - t0
    finally:
        for s in subs:
            await s.close()
        for p in pubs:
            await p.close()
            p.video.stop()


# ---------------------------------------------------------------- the bench

def summarise(reports: list[dict[str, Any]], expected: int, window: float) -> dict[str, Any]:
    subs = [s for r in reports for s in r["subs"]]
    frames = [s["frames"] for s in subs]
    delays = [d for s in subs for d in s["delays"]]
    pk = sum(s["packets"] for s in subs)
    lost = sum(max(0, s["lost"]) for s in subs)
    return {
        "subs": len(subs), "expected_frames": expected,
        "frames_min": min(frames) if frames else 0, "frames_median": statistics.median(frames) if frames else 0,
        "fps_min": (min(frames) / window) if frames else 0.0,
        "fps_median": (statistics.median(frames) / window) if frames else 0.0,
        "share_min": (min(frames) / expected) if frames and expected else 0.0,
        "share_median": (statistics.median(frames) / expected) if frames and expected else 0.0,
        "all_95": bool(frames) and expected > 0 and min(frames) >= 0.95 * expected,
        "loss": lost / (pk + lost) if pk + lost else 0.0, "packets": pk,
        "delay_p50": pct(delays, 0.5) if delays else None, "delay_p95": pct(delays, 0.95) if delays else None,
        "delay_max_p95": max((s["delay_p95"] for s in subs if s["delay_p95"] is not None), default=None),
        "layers": sorted({x for s in subs for x in s["layers"]}),
        "worker_cpu_s": sum(r["cpu"] for r in reports),
        "worker_rss_max_mb": max((r["rss_mb"] for r in reports), default=0.0),
    }


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} ms"


async def main(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    if janus_binary() is None:
        sys.exit("janus is not installed (apt-get install janus)")
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing (apt-get install chromium)")
    ip = local_ipv4()
    if ip is None:
        sys.exit("Janus needs a non-loopback IPv4 address for ICE (docs/sfu.md)")
    counts = [int(c) for c in args.counts.split(",")]
    W = args.window
    result: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "window_s": W, "fps": args.fps,
                              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    load0 = os.getloadavg()

    ws, http_port, admin = free_ports(3)
    rtp_lo = 40000 + (os.getpid() % 100) * 200
    cfg = JanusConfig(api_secret=secrets.token_urlsafe(24), admin_secret=secrets.token_urlsafe(24),
                      admin_key=secrets.token_urlsafe(24), ws_port=ws, http_port=http_port, admin_port=admin,
                      ice_enforce_list=ip, rtp_port_range=(rtp_lo, rtp_lo + 199))
    janus = JanusProcess(cfg, Path(tempfile.mkdtemp(prefix="concord-bench-janus-")))
    await janus.start()
    assert janus.pid is not None
    jpid = janus.pid
    pool = Pool(args.per_worker)
    relay_proc: asyncio.subprocess.Process | None = None
    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                       args=[*CHROMIUM_ARGS, f"--use-fake-device-for-media-stream=fps={args.fps}"])
    try:
        page = await browser.new_page()
        await page.route("http://127.0.0.1/sfu-bench",
                         lambda route: route.fulfill(body=PAGE, content_type="text/html"))
        await page.goto("http://127.0.0.1/sfu-bench")
        settings = await page.evaluate(f"startMedia({args.fps})")
        print(f"camera: {settings['width']}x{settings['height']} at {settings['frameRate']} fps (Chromium fake device)")
        async with await JanusConnection.connect(cfg.ws_url, cfg.api_secret) as conn:
            session = await conn.create_session()
            control = await session.attach_videoroom()
            spec = RoomSpec(room="bench", secret=secrets.token_urlsafe(12), bitrate=args.room_bitrate)
            await control.create_room(spec, admin_key=cfg.admin_key)

            # -- 1. fan-out through Janus
            pub = await session.attach_videoroom()
            joined = await pub.join_publisher(spec.room, display="publisher")
            feed = str(joined["id"])
            offer = await page.evaluate("offer(true, true)")
            simulcast = "a=simulcast" in offer
            ans = await pub.publish({"type": "offer", "sdp": offer})
            await page.evaluate("sdp => answer(sdp)", ans["sdp"])
            await pub.next_event(lambda e: e.janus == "webrtcup", timeout=30)
            top = await wait_top_layer(page, args)
            print(f"publisher: simulcast={'yes' if simulcast else 'NO'}; layers " + ", ".join(
                f"{s['rid']} {s['width']}x{s['height']} {s['fps']:.0f} fps" for s in sorted(
                    await page.evaluate("outbound()"), key=lambda s: s["width"])))
            result["publisher"] = {"simulcast": simulcast, "top_ssrc": top["ssrc"]}

            async def window(by_send: bool, group: list[Worker], pid: int, stats_js: str | None) -> dict[str, Any]:
                await asyncio.sleep(args.settle)
                await asyncio.gather(*(w.call(op="mark") for w in group))
                t0 = time.time()
                c0 = proc_cpu(pid)
                q0 = [run_queue_wait(p) for p in [pid] + [w.proc.pid for w in group]]
                out0 = await page.evaluate(stats_js) if stats_js else None
                await asyncio.sleep(W)
                c1 = proc_cpu(pid)
                q1 = [run_queue_wait(p) for p in [pid] + [w.proc.pid for w in group]]
                t1 = time.time()
                out1 = await page.evaluate(stats_js) if stats_js else None
                await asyncio.sleep(1.0)  # frames sent just before t1 are still on their way
                reports = list(await asyncio.gather(*(w.call(op="report", t0=t0, t1=t1, by_send=by_send)
                                                      for w in group)))
                cpu_pct = (c1 - c0) / (t1 - t0) * 100
                waits = [(b - a) / (t1 - t0) for a, b in zip(q0, q1, strict=True)]
                return {"cpu_pct": cpu_pct, "t0": t0, "t1": t1, "reports": reports, "out0": out0, "out1": out1,
                        "load": os.getloadavg()[0], "wait_server": waits[0],
                        "wait_workers": max(waits[1:], default=0.0)}

            base = await window(True, [], jpid, None)
            print(f"Janus with the publisher only: {base['cpu_pct']:.2f} % of a core")
            result["janus_idle_pct"] = base["cpu_pct"]
            rows = []
            for n in counts:
                firsts = await pool.add(n, op="janus", ws=cfg.ws_url, secret=cfg.api_secret, room=spec.room,
                                        feed=feed, timeout=30)
                w = await window(True, pool.busy(), jpid, "outbound()")
                # Every layer encodes the same frames; if the browser dropped its top layer under load, Janus
                # forwards the next one, so the reference is the layer that sent the most frames.
                per_layer = await page.evaluate("([a, b]) => sentAll(a, b)", [w["t0"] * 1000, w["t1"] * 1000])
                expected = max(per_layer.values(), default=0)
                s = summarise(w["reports"], expected, w["t1"] - w["t0"])
                got = [f for f in firsts if f is not None]
                s.update(n=n, janus_pct=w["cpu_pct"], per_sub_pct=w["cpu_pct"] / n,
                         marginal_pct=(w["cpu_pct"] - base["cpu_pct"]) / n, janus_rss_mb=proc_hwm_mb(jpid),
                         join_first_p50=pct(got, 0.5) if got else None, join_first_max=max(got) if got else None,
                         join_no_frame=len(firsts) - len(got), load=w["load"], wait_janus=w["wait_server"],
                         wait_workers=w["wait_workers"])
                s["sent_fps"] = expected / (w["t1"] - w["t0"])
                s["per_sub_at_fps"] = s["per_sub_pct"] * args.fps / s["sent_fps"] if s["sent_fps"] else float("nan")
                rid = {o["ssrc"]: o["rid"] for o in w["out1"]}
                s["layers"] = [rid.get(x, str(x)) for x in s["layers"]]
                s["publisher_out"] = w["out1"]
                h = max(w["out1"], key=lambda o: o["width"])
                h0 = next((o for o in w["out0"] if o["ssrc"] == h["ssrc"]), h)
                s["top_kbps"] = (h["bytesSent"] - h0["bytesSent"]) * 8 / (w["t1"] - w["t0"]) / 1000
                s["top_now"] = (f"{h['rid']} {h['width']}x{h['height']} {h['fps']:.0f} fps {s['top_kbps']:.0f} kbit/s"
                                f" limit={h['limit'] or 'none'}")
                rows.append(s)
                print(f"  {n:3d} subscribers: Janus {s['janus_pct']:.1f} % of a core = {s['per_sub_pct']:.3f} %/sub"
                      f" (marginal {s['marginal_pct']:.3f} %), fps min/median {s['fps_min']:.1f}/"
                      f"{s['fps_median']:.1f}, frames min {s['share_min']:.1%} of {expected}, loss {s['loss']:.2%},"
                      f" delay p50/p95 {fmt_ms(s['delay_p50'])}/{fmt_ms(s['delay_p95'])}, load {w['load']:.1f};"
                      f" forwarded layer(s) {'/'.join(s['layers'])}, top layer now {s['top_now']}; waiting for a CPU: Janus"
                      f" {s['wait_janus']:.2f} s/s, busiest worker {s['wait_workers']:.2f} s/s", flush=True)
            result["janus"] = rows
            await pool.close_subs()
            with contextlib.suppress(Exception):
                await pub.hangup()
            await pub.detach()
            result["janus_rss_mb"] = proc_hwm_mb(jpid)

            # -- baseline for frames and delay: the same browser straight to one aiortc receiver (a mesh link)
            direct = await Worker.spawn()
            try:
                offer = await page.evaluate("offer(false, true)")
                ans = floor_bitrate((await direct.call(op="answer", sdp=offer))["sdp"])
                await page.evaluate("sdp => answer(sdp)", ans)
                await wait_single_layer(page, args)
                ssrc = (await page.evaluate("outbound()"))[0]["ssrc"]
                w = await window(True, [direct], direct.proc.pid, None)
                expected = await page.evaluate("([s, a, b]) => sentIn(s, a, b)", [ssrc, w["t0"] * 1000, w["t1"] * 1000])
                d = summarise(w["reports"], expected, w["t1"] - w["t0"])
                d["receiver_pct"] = w["cpu_pct"]
                result["direct"] = d
                print(f"  direct link (no SFU): fps {d['fps_median']:.1f}, frames {d['share_min']:.1%} of {expected}, "
                      f"loss {d['loss']:.2%}, delay p50/p95 {fmt_ms(d['delay_p50'])}/{fmt_ms(d['delay_p95'])}, "
                      f"receiver {d['receiver_pct']:.1f} % of a core", flush=True)
            finally:
                await direct.stop()

            # -- 2. the same fan-out through an aiortc relay (MediaRelay)
            await page.evaluate("stop()")
            relay_proc = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "--relay", stdout=asyncio.subprocess.PIPE)
            assert relay_proc.stdout is not None
            rport = json.loads(await relay_proc.stdout.readline())["port"]
            rurl = f"http://127.0.0.1:{rport}"
            import aiohttp

            async with aiohttp.ClientSession() as http:
                offer = await page.evaluate("offer(false, false)")
                async with http.post(rurl + "/publish", json={"sdp": offer}) as r:
                    ans = floor_bitrate((await r.json())["sdp"])
                await page.evaluate("sdp => answer(sdp)", ans)
                await wait_single_layer(page, args)
                rbase = await window(False, [], relay_proc.pid, None)
                result["relay_idle_pct"] = rbase["cpu_pct"]
                print(f"relay with the publisher only (receive + decode): {rbase['cpu_pct']:.1f} % of a core", flush=True)
                rrows = []
                n_have = 0
                step = 0
                steps = [1, 2, 3, 4, 6, 8, 12, 16, 25, 50]
                while step < len(steps) and steps[step] <= args.relay_max:
                    n = steps[step]
                    firsts = await pool.add(n, op="relay", url=rurl, timeout=20)
                    n_have = n
                    w = await window(False, pool.busy(), relay_proc.pid, "outbound()")
                    sent = w["out1"][0]["framesSent"] - w["out0"][0]["framesSent"] if w["out0"] else 0
                    s = summarise(w["reports"], sent, w["t1"] - w["t0"])
                    got = [f for f in firsts if f is not None]
                    s.update(n=n, relay_pct=w["cpu_pct"], per_sub_pct=w["cpu_pct"] / n,
                             marginal_pct=(w["cpu_pct"] - rbase["cpu_pct"]) / n,
                             relay_rss_mb=proc_hwm_mb(relay_proc.pid), load=w["load"], wait_relay=w["wait_server"],
                             wait_workers=w["wait_workers"],
                             join_first_p50=pct(got, 0.5) if got else None, join_no_frame=len(firsts) - len(got))
                    s["sent_fps"] = sent / (w["t1"] - w["t0"])
                    s["per_sub_at_fps"] = s["per_sub_pct"] * args.fps / s["sent_fps"] if s["sent_fps"] else float("nan")
                    o = w["out1"][0] if w["out1"] else {}
                    s["top_now"] = f"{o.get('width')}x{o.get('height')} {o.get('fps', 0):.0f} fps limit={o.get('limit') or 'none'}"
                    rrows.append(s)
                    print(f"  relay {n:3d} subscribers: {s['relay_pct']:.1f} % of a core = {s['per_sub_pct']:.2f} %/sub"
                          f" (marginal {s['marginal_pct']:.2f} %, {s['per_sub_at_fps']:.2f} % at {args.fps} fps),"
                          f" fps min/median {s['fps_min']:.1f}/{s['fps_median']:.1f}, frames median "
                          f"{s['share_median']:.1%} min {s['share_min']:.1%} of {sent}, loss {s['loss']:.2%},"
                          f" load {w['load']:.1f}; publisher now {s['top_now']}", flush=True)
                    step += 1
                    if s["share_median"] < 0.5 or s["fps_median"] < 0.5 * args.fps:
                        break  # the frame rate collapsed
                del n_have
                result["relay"] = rrows
                await pool.close_subs()
                await page.evaluate("stop()")
            result["relay_rss_mb"] = max((r["relay_rss_mb"] for r in rrows), default=0.0)
            relay_proc.terminate()
            await relay_proc.wait()
            relay_proc = None
            await pool.stop()

            # -- 3. join to first frame: SFU pair vs mesh (direct)
            from bench.join import direct_once

            jw, jh = 320, 240
            await direct_once(jw, jh)  # warm-up outside the measurement
            mesh, sfu = [], []
            for _ in range(args.join_runs):
                mesh.append(await direct_once(jw, jh))
                sfu.append(await sfu_pair_once(session, spec.room, jw, jh))
            result["join"] = {"mesh": mesh, "sfu": sfu}
            await control.destroy_room(spec.room, secret=spec.secret)
        result["janus_rss_mb"] = proc_hwm_mb(jpid)
    finally:
        if relay_proc is not None and relay_proc.returncode is None:
            relay_proc.kill()
            await relay_proc.wait()
        await pool.stop()
        await browser.close()
        await pw.stop()
        await janus.stop()
    result["bench_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["workers_rss_mb"] = sorted(pool.hwm.values())
    result["load"] = [load0[0], os.getloadavg()[0]]
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "sfu.json").write_text(json.dumps(result, indent=1, default=str))
    report(result, args)


def floor_bitrate(answer: str, kbps: tuple[int, int, int] = (1500, 2000, 2500)) -> str:
    """Add Chromium's x-google min/start/max bitrate to VP8 in the relay's answer. aiortc's receiver
    estimates bandwidth with REMB only and low, and Chromium then sends 720p at about 13 fps; with the floor
    it sends what it sends to Janus (whose transport-wide feedback lets it ramp up), so both paths carry the
    same stream."""
    import re

    fm = "x-google-min-bitrate={};x-google-start-bitrate={};x-google-max-bitrate={}".format(*kbps)
    out = []
    for line in answer.split("\r\n"):
        out.append(line)
        m = re.match(r"a=rtpmap:(\d+) VP8/90000", line)
        if m:
            out.append(f"a=fmtp:{m.group(1)} {fm}")
    return "\r\n".join(out)


async def wait_top_layer(page: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Until the browser sends its 720p layer at a steady rate (bandwidth estimation ramps up first)."""
    deadline = time.monotonic() + args.rampup
    best: dict[str, Any] = {}
    while time.monotonic() < deadline:
        out = await page.evaluate("outbound()")
        best = max(out, key=lambda s: (s["width"], s["fps"]), default={})
        if best and best["width"] >= 1280 and best["fps"] >= 0.8 * args.fps:
            await asyncio.sleep(2.0)
            return best
        await asyncio.sleep(0.5)
    print(f"warning: the top layer did not reach 1280 wide at {0.8 * args.fps:.0f} fps within {args.rampup} s: {best}")
    if not best:
        raise RuntimeError("the browser sends no video")
    return best


async def wait_single_layer(page: Any, args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.rampup
    while time.monotonic() < deadline:
        out = await page.evaluate("outbound()")
        if out and out[0]["fps"] >= 0.8 * args.fps and out[0]["width"] >= 1280:
            await asyncio.sleep(2.0)
            return
        await asyncio.sleep(0.5)
    print(f"warning: the relay publisher did not reach 1280 wide at {0.8 * args.fps:.0f} fps: "
          f"{await page.evaluate('outbound()')}")


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    W = r["window_s"]
    print(f"\n== SFU fan-out ({r['machine']}, {W:g} s windows, load average {r['load'][0]:.1f} → {r['load'][1]:.1f}) ==")
    pub = r["publisher"]
    print(f"publisher: Chromium, fake camera 1280x720 at {r['fps']} fps, "
          f"{'3 simulcast layers (h/m/l)' if pub['simulcast'] else 'ONE layer (simulcast offer refused)'} + Opus;"
          f" subscribers get the top layer, receive only (no decoding), {args.per_worker} per worker process")
    print("\nJanus 1.1 VideoRoom (CPU per subscriber = Janus CPU over the window / subscribers; marginal = minus "
          f"the publisher-only {r['janus_idle_pct']:.2f} %):")
    fps = r["fps"]
    print(f"(at {fps} fps: per sub scaled from the frame rate the browser actually sent to {fps} fps)")
    print(f"| subs | Janus % core | per sub | marginal/sub | per sub at {fps} fps | fps min/median | frames min (median) of sent | all ≥95% "
          "| loss | delay p50 / p95 / worst sub p95 | join→1st frame p50/max | Janus RSS | layer | publisher's top layer | load "
          "| CPU wait Janus / worker |")
    print("|" + "---|" * 16)
    for s in r["janus"]:
        print(f"| {s['n']} | {s['janus_pct']:.1f} | {s['per_sub_pct']:.3f} % | {s['marginal_pct']:.3f} % | "
              f"{s['per_sub_at_fps']:.3f} % | "
              f"{s['fps_min']:.1f} / {s['fps_median']:.1f} | {s['share_min']:.1%} ({s['share_median']:.1%}) of "
              f"{s['expected_frames']} | {'yes' if s['all_95'] else 'NO'} | {s['loss']:.2%} | {fmt_ms(s['delay_p50'])} / "
              f"{fmt_ms(s['delay_p95'])} / {fmt_ms(s['delay_max_p95'])} | "
              f"{fmt_ms((s['join_first_p50'] or 0) * 1000)} / {fmt_ms((s['join_first_max'] or 0) * 1000)}"
              f"{' (' + str(s['join_no_frame']) + ' no frame)' if s['join_no_frame'] else ''} | {s['janus_rss_mb']:.0f} MB | "
              f"{'/'.join(s['layers'])} | {s['top_now']} | {s['load']:.1f} | {s['wait_janus']:.2f} / {s['wait_workers']:.2f} s/s |")
    d = r["direct"]
    print(f"\nbaseline, the same browser straight to one aiortc receiver (a mesh link, one 720p layer): fps "
          f"{d['fps_median']:.1f}, frames {d['share_min']:.1%} of {d['expected_frames']}, loss {d['loss']:.2%}, "
          f"delay p50 {fmt_ms(d['delay_p50'])}, p95 {fmt_ms(d['delay_p95'])}")
    print("delay publish → receipt through Janus against that link (p50):")
    for s in r["janus"]:
        if s["delay_p50"] is not None and d["delay_p50"]:
            print(f"  {s['n']:3d} subs: {s['delay_p50']:.1f} ms vs {d['delay_p50']:.1f} ms = {s['delay_p50'] / d['delay_p50']:.2f}x"
                  f", +{s['delay_p50'] - d['delay_p50']:.1f} ms; p95 {s['delay_p95']:.1f} vs {d['delay_p95']:.1f} ms")
    print("CPU wait = seconds per second that the process's threads were runnable but got no CPU (schedstat);"
          " a busy worker waiting much means the receiving side, not Janus, was short of CPU")
    print("aiortc receive-only cost in the subscriber workers (no decoding): " + ", ".join(
        f"{s['n']} subs {s['worker_cpu_s'] / W / s['n'] * 100:.2f} %/sub" for s in r["janus"]))
    print("\naiortc relay (MediaRelay, decode once + one VP8 encoder per subscriber), same page, one 720p layer:")
    print(f"(marginal = minus the publisher-only {r['relay_idle_pct']:.1f} %: receiving and decoding the publisher)")
    print(f"| subs | relay % core | per sub | marginal/sub | per sub at {fps} fps | fps min/median "
          "| frames min (median) of sent | all ≥95% | loss | relay RSS | publisher | load | CPU wait relay / worker |")
    print("|" + "---|" * 13)
    for s in r["relay"]:
        print(f"| {s['n']} | {s['relay_pct']:.1f} | {s['per_sub_pct']:.2f} % | {s['marginal_pct']:.2f} % | "
              f"{s['per_sub_at_fps']:.2f} % | "
              f"{s['fps_min']:.1f} / {s['fps_median']:.1f} | "
              f"{s['share_min']:.1%} ({s['share_median']:.1%}) of {s['expected_frames']} | "
              f"{'yes' if s['all_95'] else 'NO'} | {s['loss']:.2%} | {s['relay_rss_mb']:.0f} MB | {s['top_now']} | {s['load']:.1f} | "
              f"{s['wait_relay']:.2f} / {s['wait_workers']:.2f} s/s |")
    ok_relay = [s for s in r["relay"] if s["share_median"] >= 0.95]
    survived = max((s["n"] for s in ok_relay), default=0)
    ref_rows = ok_relay or r["relay"]
    relay_per_sub = statistics.median([s["per_sub_pct"] for s in ref_rows]) if ref_rows else float("nan")
    relay_marginal = statistics.median([s["marginal_pct"] for s in ref_rows]) if ref_rows else float("nan")
    relay_at_fps = statistics.median([s["per_sub_at_fps"] for s in ref_rows]) if ref_rows else float("nan")
    print(f"relay kept ≥95% of the frames (median subscriber) up to {survived} subscriber(s)")
    print(f"\nCPU per subscriber, Janus : aiortc relay (relay: median of its rows"
          f"{' with ≥95% of the frames' if ok_relay else ' (none kept 95%)'}: {relay_per_sub:.2f} %/sub, marginal "
          f"{relay_marginal:.2f} %/sub):")
    for s in r["janus"]:
        ratio = s["per_sub_pct"] / relay_per_sub
        mratio = s["marginal_pct"] / relay_marginal
        print(f"  {s['n']:3d} subs: {s['per_sub_pct']:.3f} % : {relay_per_sub:.2f} % = {ratio:.3f} (1/{1 / ratio:.0f});"
              f" marginal {s['marginal_pct']:.3f} % : {relay_marginal:.2f} % = {mratio:.3f} (1/{1 / mratio:.0f})"
              f"  goal ≤ 1/10: {'met' if max(ratio, mratio) <= 0.1 else 'NOT met'}; every subscriber ≥95% of frames: "
              f"{'yes' if s['all_95'] else 'NO'}")
    print(f"  the same at {fps} fps (both scaled to the frame rate asked of the camera; relay {relay_at_fps:.2f} %/sub): "
          + "; ".join(f"{s['n']} subs {s['per_sub_at_fps']:.3f} % = 1/{relay_at_fps / s['per_sub_at_fps']:.0f}"
                      for s in r["janus"]))
    r["relay_per_sub_pct"] = relay_per_sub
    r["relay_at_fps_pct"] = relay_at_fps
    r["relay_marginal_pct"] = relay_marginal
    r["relay_survived"] = survived
    j = r["join"]
    mm, ms = statistics.median(j["mesh"]), statistics.median(j["sfu"])
    print(f"\njoin → first decoded frame, two aiortc peers 320x240 15 fps, both ways, median of {len(j['sfu'])}:")
    print(f"  mesh (direct PeerConnection): {mm:.3f} s (p90 {pct(j['mesh'], 0.9):.3f} s)")
    print(f"  through Janus (publish + subscribe each): {ms:.3f} s (p90 {pct(j['sfu'], 0.9):.3f} s)   "
          f"ratio {ms / mm:.2f}x")
    print(f"\npeak RSS: Janus {r['janus_rss_mb']:.0f} MB; this process (Janus client, Concord's part) "
          f"{r['bench_rss_mb']:.0f} MB; subscriber workers {', '.join(f'{x:.0f}' for x in r['workers_rss_mb'])} MB;"
          f" aiortc relay {r['relay_rss_mb']:.0f} MB")
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "sfu.json").write_text(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="10,25,50", help="subscriber counts on Janus")
    ap.add_argument("--window", type=float, default=20.0, help="measured seconds per step")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after the subscribers joined")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--per-worker", type=int, default=10, help="subscriber PeerConnections per worker process")
    ap.add_argument("--relay-max", type=int, default=50)
    ap.add_argument("--join-runs", type=int, default=10)
    ap.add_argument("--rampup", type=float, default=40.0, help="seconds allowed for the 720p layer to start")
    ap.add_argument("--room-bitrate", type=int, default=4_000_000,
                    help="VideoRoom bitrate cap for the publisher (REMB); below ~1.5 Mbit/s Chromium drops 720p")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2,4 subscribers, 4 s windows, relay ≤ 2")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--relay", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        asyncio.run(worker_main())
    elif a.relay:
        asyncio.run(relay_main())
    else:
        if a.quick:
            a.counts, a.window, a.settle, a.relay_max, a.join_runs, a.per_worker = "2,4", 4.0, 2.0, 2, 2, 2
        asyncio.run(main(a))
