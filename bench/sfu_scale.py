"""Janus CPU per subscriber and per cascade forward, for docs/scaling.md.

    python bench/sfu_scale.py [--steps 0,4,8,16] [--seconds 10] [--size 640x360]

Starts two Janus instances (A and B) from generated configs. One aiortc publisher sends synthetic VP8
video (``--size``, 15 fps) and an Opus tone into a room on A. Then, for each step, the number of aiortc
subscribers on A is raised to that count; after a settling pause, Janus A's CPU time (from /proc) is
sampled over ``--seconds`` together with its forwarded bitrate from the Admin API
(``server.sfu.load.poll_instance``). The slope of CPU against subscribers is the per-subscriber cost.
Finally, with no subscriber left on A, the feed is cascaded into ``--forwards`` rooms on B
(``server.sfu.cascade``) and A's extra CPU for those plain-RTP forwards is measured the same way. Subscribers decode (aiortc), so their own CPU is not part of Janus's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.sfu.cascade import RoomOn, cascade, streams_from  # noqa: E402
from server.sfu.janus import JanusAdmin, JanusConnection, RoomSpec  # noqa: E402
from server.sfu.jcfg import JanusConfig  # noqa: E402
from server.sfu.load import instance_label, poll_instance  # noqa: E402
from server.sfu.process import JanusProcess, free_ports, janus_binary, local_ipv4  # noqa: E402
from tests.media.synthetic import SyntheticVideo  # noqa: E402
from tests.sfu.peers import Publisher, Subscriber  # noqa: E402


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def config(rtp: tuple[int, int]) -> JanusConfig:
    ws, http, admin = free_ports(3)
    return JanusConfig(api_secret=secrets.token_urlsafe(24), admin_secret=secrets.token_urlsafe(24),
                       admin_key=secrets.token_urlsafe(24), ws_port=ws, http_port=http, admin_port=admin,
                       ice_enforce_list=local_ipv4(), rtp_port_range=rtp)


async def sample(pid: int, admin: JanusAdmin, label: str, key: str, seconds: float,
                 subs: list[Subscriber]) -> tuple[float, float, float]:
    """(Janus CPU as a fraction of one core, forwarded Mbit/s, median received video fps per subscriber)."""
    frames0 = [s.frames["video"] for s in subs]
    c0, t0 = cpu_s(pid), time.monotonic()
    mbps: list[float] = []
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(2)
        load = await poll_instance(admin, instance=label, admin_key=key)
        mbps.append(load.forwarded_bps / 1e6)
    c1, t1 = cpu_s(pid), time.monotonic()
    fps = sorted((s.frames["video"] - f0) / (t1 - t0) for s, f0 in zip(subs, frames0, strict=True))
    return (c1 - c0) / (t1 - t0), sum(mbps) / len(mbps), fps[len(fps) // 2] if fps else 0.0


async def main(steps: list[int], seconds: float, size: tuple[int, int], forwards: int) -> None:
    if janus_binary() is None:
        sys.exit("janus is not installed (apt-get install janus)")
    cfg_a, cfg_b = config((37000, 37199)), config((37200, 37399))
    a = JanusProcess(cfg_a, Path(tempfile.mkdtemp(prefix="concord-scale-a-")))
    b = JanusProcess(cfg_b, Path(tempfile.mkdtemp(prefix="concord-scale-b-")))
    await a.start()
    await b.start()
    assert a.pid is not None
    admin_a = JanusAdmin(cfg_a.admin_url, cfg_a.admin_secret)
    label_a = instance_label(cfg_a.ws_url)
    rows: list[tuple[int, float, float, float]] = []
    try:
        async with await JanusConnection.connect(cfg_a.ws_url, cfg_a.api_secret) as conn_a, \
                await JanusConnection.connect(cfg_b.ws_url, cfg_b.api_secret) as conn_b:
            sa, sb = await conn_a.create_session(), await conn_b.create_session()
            ca, cb = await sa.attach_videoroom(), await sb.attach_videoroom()
            spec_a = RoomSpec(room="scale-a", secret=secrets.token_urlsafe(12), bitrate=2_000_000)
            spec_b = RoomSpec(room="scale-b", secret=secrets.token_urlsafe(12), bitrate=2_000_000)
            await ca.create_room(spec_a, admin_key=cfg_a.admin_key)
            await cb.create_room(spec_b, admin_key=cfg_b.admin_key)
            pub = Publisher(sa, spec_a.room, "host")
            pub.pc.getSenders()[1].replaceTrack(SyntheticVideo(*size, fps=15))
            await pub.publish()
            subs: list[Subscriber] = []
            for n in steps:
                while len(subs) < n:
                    s = Subscriber(sa, spec_a.room)
                    await s.subscribe([pub.id])
                    subs.append(s)
                await asyncio.sleep(4)
                cpu, mbps, fps = await sample(a.pid, admin_a, label_a, cfg_a.admin_key, seconds, subs)
                rows.append((n, cpu, mbps, fps))
                print(f"{n:3d} subscribers: Janus A {cpu * 100:5.1f}% of a core, forwarded {mbps:5.2f} Mbit/s, "
                      f"median {fps:4.1f} fps per subscriber", flush=True)
            for s in subs:
                await s.close()
            # Cascade forwards A -> B: the feed forwarded into ``forwards`` rooms on B (one plain-RTP copy
            # each, whether or not anyone subscribes there), against A with no subscriber at all.
            await asyncio.sleep(3)
            base, _, _ = await sample(a.pid, admin_a, label_a, cfg_a.admin_key, seconds, [])
            assert pub.handle is not None
            info = await admin_a.handle_info(sa.id, pub.handle.id)
            streams = streams_from(info["plugin_specific"]["streams"])
            links = []
            edge: Subscriber | None = None
            for i in range(forwards):
                spec = RoomSpec(room=f"scale-b{i}", secret=secrets.token_urlsafe(12))
                await cb.create_room(spec, admin_key=cfg_b.admin_key)
                links.append(await cascade(RoomOn(label_a, ca, spec_a.room, spec_a.secret),
                                           RoomOn(instance_label(cfg_b.ws_url), cb, spec.room, spec.secret),
                                           feed=pub.id, streams=streams, admin_key=cfg_a.admin_key))
                if edge is None:
                    edge = Subscriber(sb, spec.room)
                    await edge.subscribe([pub.id])
            await asyncio.sleep(3)
            fwd, _, fps_c = await sample(a.pid, admin_a, label_a, cfg_a.admin_key, seconds,
                                         [edge] if edge else [])
            print(f"0 subscribers: Janus A {base * 100:5.1f}% of a core; with {forwards} cascade forwards "
                  f"{fwd * 100:5.1f}%; a centre on B gets {fps_c:4.1f} fps", flush=True)
            if edge is not None:
                await edge.close()
            for link in links:
                await link.close()
            await pub.close()
    finally:
        await a.stop()
        await b.stop()
    if len(rows) >= 2:
        n0, c0, m0, _ = rows[0]
        n1, c1, m1, _ = rows[-1]
        per_sub = (c1 - c0) / (n1 - n0)
        per_mbit = (c1 - c0) / max(m1 - m0, 1e-9)
        print(f"per subscriber: {per_sub * 100:.2f}% of a core; per forwarded Mbit/s: {per_mbit * 100:.2f}% "
              f"of a core")
    if forwards:
        print(f"per cascade forward: {(fwd - base) / forwards * 100:.2f}% of a core")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", default="0,4,8,16")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--forwards", type=int, default=8)
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    asyncio.run(main([int(x) for x in args.steps.split(",")], args.seconds, (w, h), args.forwards))
