"""Join to first frame: two aiortc peers through Concord, beside two aiortc peers connected directly.

    python bench/join.py [--runs 10] [--size 320x240]

Concord: a real ``concord serve`` process; each run uses a fresh session with two moderator invitations
(direct entry, no lobby: a human admitting someone is not what is measured). The clock starts when the
first peer opens its WebSocket and stops when *both* peers have decoded a video frame from the other.
Direct: the same two aiortc peers and tracks, SDP handed over in-process; the clock starts when the peer
connections are created. Runs alternate between the two so machine load hits both alike. Prints the
medians, the ratio, and peak RSS of the server and of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiortc import RTCPeerConnection

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.media.synthetic import SyntheticAudio, SyntheticVideo  # noqa: E402
from tests.support.room_client import RoomClient  # noqa: E402
from tests.support.servers import Api, run_cli, server_env, start_node, wait_healthy  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def first_frame(pc: RTCPeerConnection, done: asyncio.Future[float]) -> None:
    @pc.on("track")
    def on_track(track) -> None:  # type: ignore[no-untyped-def]
        if track.kind != "video":
            return

        async def pull() -> None:
            await track.recv()
            if not done.done():
                done.set_result(time.perf_counter())

        asyncio.ensure_future(pull())


async def direct_once(w: int, h: int) -> float:
    t0 = time.perf_counter()
    a, b = RTCPeerConnection(), RTCPeerConnection()
    loop = asyncio.get_running_loop()
    fa, fb = loop.create_future(), loop.create_future()
    tracks = []
    for pc in (a, b):
        v, s = SyntheticVideo(w, h, 15), SyntheticAudio()
        tracks += [v, s]
        pc.addTrack(v)
        pc.addTrack(s)
    await first_frame(a, fa)
    await first_frame(b, fb)
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(asyncio.gather(fa, fb), 30)
    dt = max(fa.result(), fb.result()) - t0
    await a.close()
    await b.close()
    for t in tracks:
        t.stop()
    return dt


async def concord_once(base: str, tokens: tuple[str, str], w: int, h: int) -> float:
    def tracks() -> list:
        return [SyntheticVideo(w, h, 15), SyntheticAudio()]

    x = RoomClient(base, tokens[0], tracks=tracks)
    y = RoomClient(base, tokens[1], tracks=tracks)
    t0 = time.perf_counter()
    try:
        await x.connect()
        await y.connect()
        await x.wait(lambda: y.peer_id in x.links and x.links[y.peer_id].first_video_at is not None, 30)
        await y.wait(lambda: x.peer_id in y.links and y.links[x.peer_id].first_video_at is not None, 30)
        dt = max(x.links[y.peer_id].first_video_at, y.links[x.peer_id].first_video_at) - t0  # type: ignore[type-var]
    finally:
        await y.leave()
        await x.leave()
    return dt


async def main(args: argparse.Namespace) -> None:
    w, h = (int(v) for v in args.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="concord-join-"))
    env = server_env(CONCORD_SECRET_KEY="bench-secret-not-for-production", CONCORD_RECORDINGS_DIR=str(tmp / "rec"))
    assert run_cli(["demo", "--data-dir", str(tmp)], env).returncode == 0
    node = start_node(tmp, env, name="join")
    try:
        await wait_healthy(node)
        async with aiohttp.ClientSession() as s:
            api = await Api(node.base, s).login("mediator")
            pairs = []
            for i in range(args.runs):
                sid = (await api.post("/api/sessions", {"kind": "consultation", "title": f"首帧测试{i}",
                                                        "unit": "340321001"}, 201))["id"]
                pairs.append(tuple([(await api.post(f"/api/sessions/{sid}/invitations",
                                                    {"name": n, "role": "mediator"}, 201))["token"]
                                    for n in ("甲", "乙")]))
        await direct_once(w, h)  # warm up codecs and imports outside the measurement
        direct, concord = [], []
        for i in range(args.runs):
            direct.append(await direct_once(w, h))
            concord.append(await concord_once(node.base, pairs[i], w, h))  # type: ignore[arg-type]
            print(f"run {i + 1:2d}: direct {direct[-1]:.3f} s   concord {concord[-1]:.3f} s", flush=True)
        md, mc = statistics.median(direct), statistics.median(concord)
        out = {"runs": args.runs, "size": args.size, "direct_median_s": md, "concord_median_s": mc,
               "ratio": mc / md, "server_peak_rss_mb": peak_rss_mb(node.proc.pid),
               "bench_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "load_avg": os.getloadavg()}
        print(f"\njoin -> first decoded frame, both peers, {args.size} VP8 15 fps, median of {args.runs}:")
        print(f"  direct (in-process SDP): {md:.3f} s")
        print(f"  through Concord:         {mc:.3f} s   ratio {mc / md:.2f}x   (goals: <= 1.3x, < 1.5 s)")
        print(f"  peak RSS: server {out['server_peak_rss_mb']:.0f} MB, bench process {out['bench_peak_rss_mb']:.0f} MB;"
              f" load average {out['load_avg'][0]:.1f}")
        (ROOT / "bench" / "out").mkdir(exist_ok=True)
        (ROOT / "bench" / "out" / "join.json").write_text(json.dumps({**out, "direct": direct, "concord": concord},
                                                                     indent=1))
    finally:
        node.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--size", default="320x240")
    asyncio.run(main(p.parse_args()))
