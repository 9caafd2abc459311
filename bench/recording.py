"""Recording benchmarks (issue 4). Prints each figure beside a baseline measured in the same run.

    python bench/recording.py [--seconds 60] [--tracks 1,4,8,16,24] [--ledger-n 1000] [--hours 1]

1. CPU seconds per recorded minute of one 640x360 15 fps VP8 track: Concord's recorder vs aiortc's
   MediaRecorder, each in its own receiving process, fed the same pre-encoded stream by real aiortc
   senders over loopback (the senders run in this process, so their cost is not counted).
2. Simultaneous recorded tracks one receiving process (one core) sustains without dropping frames.
3. Ledger append throughput on SQLite and PostgreSQL vs a plain INSERT of the same row.
4. Peak RSS and RSS flatness: one hour of 640x360 15 fps video plus Opus audio pushed through the
   segment writer as fast as it goes (a simulated hour: the same bytes and timestamps, not real time).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

W, H, FPS = 640, 360, 15
VIDEO_TB = fractions.Fraction(1, 90000)


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---- a pre-encoded clip ------------------------------------------------------------------------------

def encode_clip(seconds: int = 10) -> list[tuple[bytes, bool]]:
    """640x360 15 fps VP8 at ~500 kbps, a keyframe every 2 s; moving content so the bitrate is real."""
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = W, H, "yuv420p"
    enc.time_base = fractions.Fraction(1, FPS)
    enc.bit_rate = 500_000
    enc.gop_size = 2 * FPS
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    rng = np.random.default_rng(7)
    out = []
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    for i in range(seconds * FPS):
        img = np.roll(base, i * 8, axis=1)
        img[:, (i * 13) % W:(i * 13) % W + 40] = 255
        f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        f.pts = i
        if i % (2 * FPS) == 0:
            f.pict_type = av.video.frame.PictureType.I
        for p in enc.encode(f):
            out.append((bytes(p), p.is_keyframe))
    return out


def opus_clip(seconds: int = 2) -> list[bytes]:
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "mono", "s16", 32000
    enc.time_base = fractions.Fraction(1, 48000)
    out = []
    t = np.arange(960)
    for i in range(seconds * 50):
        a = (np.sin(2 * np.pi * 300 * (t + i * 960) / 48000) * 5000).astype(np.int16).reshape(1, -1)
        f = av.AudioFrame.from_ndarray(a, format="s16", layout="mono")
        f.sample_rate, f.pts = 48000, i * 960
        out += [bytes(p) for p in enc.encode(f)]
    return out


# ---- receiving process ---------------------------------------------------------------------------------

async def receiver(mode: str, outdir: str, seconds: float, n: int) -> None:
    """Reads n offers (one JSON line each) on stdin, answers on stdout, records, reports JSON."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRecorder

    from server.media.recorder import Recorder, RemotePeer

    out = Path(outdir)
    loop = asyncio.get_running_loop()
    first_frame = asyncio.Event()
    lag_max = 0.0

    async def watch_lag() -> None:
        nonlocal lag_max
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.1)
            lag_max = max(lag_max, time.perf_counter() - t0 - 0.1)

    class Events:
        segments = 0

        async def track_started(self, *a): first_frame.set()  # noqa: E704
        async def segment_opened(self, *a): pass  # noqa: E704
        async def segment_closed(self, *a): Events.segments += 1  # noqa: E704
        async def failed(self, *a): print("FAILED", a, file=sys.stderr)  # noqa: E704
        async def resumed(self, *a): pass  # noqa: E704
        async def track_ended(self, *a): pass  # noqa: E704

    answers: asyncio.Queue = asyncio.Queue()
    recorders = []
    pcs = []
    rec = None
    if mode == "concord":
        async def send(to: str, data: dict) -> None:
            await answers.put(data)
        rec = Recorder(1, out, send, Events(), max_segment_s=10.0)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    for i in range(n):
        offer = json.loads(await reader.readline())
        if mode == "concord":
            await rec.handle_signal(RemotePeer(f"p{i}", f"p{i}", "party"), {"description": offer})
            ans = (await answers.get())["description"]
        else:
            pc = RTCPeerConnection()
            pcs.append(pc)
            mr = MediaRecorder(str(out / f"mr-{i}.webm"))
            recorders.append(mr)

            @pc.on("track")
            def on_track(track, mr=mr):  # type: ignore[no-untyped-def]
                mr.addTrack(track)

            await pc.setRemoteDescription(RTCSessionDescription(**offer))
            await pc.setLocalDescription(await pc.createAnswer())
            await mr.start()
            first_frame.set()
            ans = {"type": "answer", "sdp": pc.localDescription.sdp}
        print(json.dumps(ans), flush=True)
    await first_frame.wait()
    await asyncio.sleep(2.0)  # let ICE, DTLS and the first keyframes settle
    lagger = asyncio.create_task(watch_lag())
    c0, t0, r0 = cpu_s(), time.time(), rss_kb()
    written0 = _written(rec)
    await asyncio.sleep(seconds)
    c1, t1 = cpu_s(), time.time()
    written1 = _written(rec)
    lagger.cancel()
    drops = 0
    if rec is not None:
        for conn in rec.peers.values():
            for sink in conn.sinks:
                drops += (sink.tap.dropped if sink.tap else 0)
                if sink.writer:
                    st = sink.writer.stats
                    drops += st.dropped_gap + st.dropped_failed
        await rec.close()
    for mr in recorders:
        await mr.stop()
    for pc in pcs:
        await pc.close()
    frames = written1 - written0 if rec is not None else None
    print(json.dumps({"cpu_s": c1 - c0, "wall_s": t1 - t0, "frames": frames, "drops": drops,
                      "loop_lag_max_s": lag_max, "rss_start_kb": r0, "rss_end_kb": rss_kb(),
                      "peak_rss_kb": peak_rss_kb(), "segments": Events.segments}), flush=True)


def _written(rec) -> int:  # type: ignore[no-untyped-def]
    if rec is None:
        return 0
    return sum(s.writer.stats.frames_written for c in rec.peers.values() for s in c.sinks if s.writer)


async def run_receiver(mode: str, clip: list[tuple[bytes, bool]], seconds: float, n: int) -> dict:
    """Start a receiving process and n aiortc senders (in this process) replaying the clip."""
    from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

    class ClipTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.i = 0
            self.start: float | None = None

        async def recv(self) -> av.Packet:
            if self.start is None:
                self.start = time.time()
            wait = self.start + self.i / FPS - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            data, key = clip[self.i % len(clip)]
            p = av.Packet(data)
            p.pts = int(self.i * 90000 / FPS)
            p.time_base = VIDEO_TB
            self.i += 1
            return p

    with tempfile.TemporaryDirectory() as tmp:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "_receiver", mode, tmp, str(seconds), str(n),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(ROOT))
        assert proc.stdin and proc.stdout
        senders = []
        for _ in range(n):
            pc = RTCPeerConnection()
            pc.addTrack(ClipTrack())
            await pc.setLocalDescription(await pc.createOffer())
            proc.stdin.write((json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}) + "\n").encode())
            await proc.stdin.drain()
            ans = json.loads(await proc.stdout.readline())
            await pc.setRemoteDescription(RTCSessionDescription(**ans))
            senders.append(pc)
        result = json.loads(await asyncio.wait_for(proc.stdout.readline(), seconds + 120))
        await proc.wait()
        for pc in senders:
            await pc.close()
        if mode == "mediarecorder":
            result["frames"] = None
        return result


# ---- ledger ---------------------------------------------------------------------------------------------

async def ledger_bench(url: str, n: int) -> dict:
    from sqlalchemy import text

    from server import ledger
    from server.db import Database
    from server.db.migrate import upgrade
    from server.ledger_store import append

    db = Database(url)
    await upgrade(db)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS bench_plain"))
        await conn.execute(text("CREATE TABLE bench_plain (id INTEGER PRIMARY KEY, chain VARCHAR(64), seq INTEGER,"
                                " type VARCHAR(64), at TIMESTAMP, data TEXT, prev_hash VARCHAR(64), hash VARCHAR(64))"))
    chain = ledger.session_chain(10**9 + os.getpid())
    data = {"peer": "p1", "name": "张三", "kind": "video", "track": 1, "index": 3, "sha256": "ab" * 32,
            "bytes": 512000, "duration_s": 9.93}
    t0 = time.perf_counter()
    for _ in range(n):
        async with db.session() as s:
            await append(s, chain, "recording_segment", data)
    t_ledger = time.perf_counter() - t0
    body = json.dumps(data, ensure_ascii=False)
    t0 = time.perf_counter()
    for i in range(n):
        async with db.session() as s:
            await s.execute(text("INSERT INTO bench_plain (id, chain, seq, type, at, data, prev_hash, hash) VALUES "
                                 "(:i, :c, :i, 'recording_segment', CURRENT_TIMESTAMP, :d, :h, :h)"),
                            {"i": i + 1, "c": chain, "d": body, "h": "0" * 64})
    t_plain = time.perf_counter() - t0
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP TABLE bench_plain"))
        await conn.execute(text("DELETE FROM ledger_events WHERE chain = :c"), {"c": chain})
    await db.close()
    return {"ledger_per_s": n / t_ledger, "plain_per_s": n / t_plain}


# ---- an hour through the segment writer ------------------------------------------------------------------

def soak(hours: float, clip: list[tuple[bytes, bool]]) -> dict:
    from server.media.segments import TrackInfo, TrackWriter

    class Ev:
        closed = 0
        root = Path(".")

        def request_keyframe(self) -> None: pass  # noqa: E704
        def segment_opened(self, *a) -> None: pass  # noqa: E704

        def segment_closed(self, track, seg) -> None:  # type: ignore[no-untyped-def]
            Ev.closed += 1
            (Ev.root / seg.path).unlink()  # keep the disk small: the bytes were written and hashed
        def failed(self, *a) -> None: raise RuntimeError(a)  # noqa: E704
        def resumed(self, *a) -> None: pass  # noqa: E704

    opus = opus_clip()
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Ev.root = Path(tmp)
        vw = TrackWriter(root, TrackInfo(1, "p", "张三", "party", "video", "vp8", "v", 1), Ev())
        aw = TrackWriter(root, TrackInfo(1, "p", "张三", "party", "audio", "opus", "a", 2), Ev())
        total_frames = int(hours * 3600 * FPS)
        c0, t0 = cpu_s(), time.perf_counter()
        a_i = 0
        for i in range(total_frames):
            data, _ = clip[i % len(clip)]
            vw.write(data, int(i * 90000 / FPS), arrival=1e9 + i / FPS)
            # audio up to this video frame's time (20 ms packets)
            while a_i * 0.02 <= i / FPS:
                aw.write(opus[a_i % len(opus)], a_i * 960, arrival=1e9 + a_i * 0.02)
                a_i += 1
            if i % (FPS * 300) == 0:
                samples.append((round(i / FPS / 60), rss_kb()))
        vw.close()
        aw.close()
        cpu = cpu_s() - c0
        wall = time.perf_counter() - t0
    samples.append((round(hours * 60), rss_kb()))
    return {"simulated_min": hours * 60, "cpu_s": cpu, "wall_s": wall, "segments": Ev.closed,
            "rss_samples_kb": samples, "peak_rss_kb": peak_rss_kb()}


# ---- main -------------------------------------------------------------------------------------------------

async def main(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, PyAV {av.__version__}")
    clip = encode_clip()
    kbps = sum(len(d) for d, _ in clip) * 8 / (len(clip) / FPS) / 1000
    print(f"clip: {W}x{H} {FPS} fps VP8, {kbps:.0f} kbit/s, keyframe every 2 s, replayed by aiortc senders")

    if "cpu" in args.parts:
        ours = await run_receiver("concord", clip, args.seconds, 1)
        base = await run_receiver("mediarecorder", clip, args.seconds, 1)
        per_min = lambda r: r["cpu_s"] / r["wall_s"] * 60  # noqa: E731
        print(f"\n[1] CPU per recorded minute, one track ({args.seconds:.0f} s each):")
        print(f"    Concord recorder : {per_min(ours):6.2f} CPU s/min  ({ours['cpu_s'] / ours['wall_s'] * 100:.1f}% of a core,"
              f" {ours['frames']} frames written, drops {ours['drops']}, peak RSS {ours['peak_rss_kb'] / 1024:.0f} MiB)")
        print(f"    aiortc MediaRecorder: {per_min(base):6.2f} CPU s/min  ({base['cpu_s'] / base['wall_s'] * 100:.1f}% of a core,"
              f" peak RSS {base['peak_rss_kb'] / 1024:.0f} MiB)")
        print(f"    ratio Concord / MediaRecorder = {per_min(ours) / per_min(base):.3f}  (goal <= 0.100)")

    if "tracks" in args.parts:
        print(f"\n[2] Simultaneous tracks in one receiving process ({args.track_seconds:.0f} s each):")
        best = 0
        for n in args.tracks:
            r = await run_receiver("concord", clip, args.track_seconds, n)
            expected = n * FPS * r["wall_s"]
            core = r["cpu_s"] / r["wall_s"]
            ok = r["drops"] == 0 and r["frames"] >= 0.97 * expected and core < 0.95 and r["loop_lag_max_s"] < 0.5
            best = n if ok else best
            print(f"    {n:3d} tracks: {core * 100:5.1f}% of a core, {r['frames']}/{expected:.0f} frames, drops {r['drops']},"
                  f" loop lag max {r['loop_lag_max_s'] * 1000:.0f} ms, peak RSS {r['peak_rss_kb'] / 1024:.0f} MiB"
                  f" -> {'ok' if ok else 'over'}")
            if not ok:
                break
        print(f"    sustained without drops: {best} tracks (baseline: MediaRecorder, {1 / max(1e-9, base['cpu_s'] / base['wall_s']) if 'cpu' in args.parts else float('nan'):.1f} tracks/core by its CPU)")

    if "ledger" in args.parts:
        print(f"\n[3] Ledger appends, one transaction each (n={args.ledger_n}):")
        with tempfile.TemporaryDirectory() as tmp:
            r = await ledger_bench(f"sqlite+aiosqlite:///{tmp}/bench.db", args.ledger_n)
        print(f"    SQLite    : {r['ledger_per_s']:7.0f} appends/s vs plain INSERT {r['plain_per_s']:7.0f}/s"
              f" (ratio {r['ledger_per_s'] / r['plain_per_s']:.2f})")
        pg = os.environ.get("CONCORD_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
        try:
            r = await ledger_bench(pg, args.ledger_n)
            print(f"    PostgreSQL: {r['ledger_per_s']:7.0f} appends/s vs plain INSERT {r['plain_per_s']:7.0f}/s"
                  f" (ratio {r['ledger_per_s'] / r['plain_per_s']:.2f})")
        except OSError as e:
            print(f"    PostgreSQL: not reachable ({e})")

    if "soak" in args.parts:
        r = soak(args.hours, clip)
        s = r["rss_samples_kb"]
        print(f"\n[4] Simulated {r['simulated_min']:.0f} min of 640x360 15 fps VP8 + Opus through the segment writer"
              f" (as fast as it goes): {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} CPU s, {r['segments']} segments")
        print("    RSS (MiB) by simulated minute: " + ", ".join(f"{m}:{kb / 1024:.0f}" for m, kb in s))
        print(f"    RSS growth from minute 5 to the end: {(s[-1][1] - s[1][1]) / 1024:+.1f} MiB; peak RSS {r['peak_rss_kb'] / 1024:.0f} MiB")
    print(f"\npeak RSS of this process: {peak_rss_kb() / 1024:.0f} MiB")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_receiver":
        asyncio.run(receiver(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])))
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--track-seconds", type=float, default=20.0)
    ap.add_argument("--tracks", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8, 16, 24, 32])
    ap.add_argument("--ledger-n", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--parts", type=lambda s: s.split(","), default=["cpu", "tracks", "ledger", "soak"])
    asyncio.run(main(ap.parse_args()))
