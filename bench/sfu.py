"""SFU on Janus: join to first frame (the fan-out part of issue 13's bench comes next).

    python bench/sfu.py [--runs 10]

Starts its own Janus (``server.sfu.process``) on free ports with a generated config, creates one
VideoRoom room through ``server.sfu.janus``, then per run: an aiortc publisher (320x180 15 fps synthetic
video + tone) joins and publishes; the clock ``publish`` runs from its join request to Janus's
``webrtcup``. An aiortc subscriber then subscribes to that feed; ``first frame`` runs from its join
request to its first decoded video frame. Prints medians and p90, Janus's CPU time and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.sfu.janus import JanusConnection, RoomSpec  # noqa: E402
from server.sfu.jcfg import JanusConfig  # noqa: E402
from server.sfu.process import JanusProcess, free_ports, janus_binary, local_ipv4  # noqa: E402
from tests.sfu.peers import Publisher, Subscriber  # noqa: E402


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(int(line.split()[1]) / 1024 for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmHWM:"))
    return cpu, rss


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def main(runs: int) -> None:
    if janus_binary() is None:
        sys.exit("janus is not installed (apt-get install janus)")
    ws, http, admin = free_ports(3)
    cfg = JanusConfig(api_secret=secrets.token_urlsafe(24), admin_secret=secrets.token_urlsafe(24),
                      admin_key=secrets.token_urlsafe(24), ws_port=ws, http_port=http, admin_port=admin,
                      ice_enforce_list=local_ipv4(), rtp_port_range=(36000, 36199))
    proc = JanusProcess(cfg, Path(tempfile.mkdtemp(prefix="concord-bench-janus-")))
    await proc.start()
    assert proc.pid is not None
    publish: list[float] = []
    first: list[float] = []
    try:
        async with await JanusConnection.connect(cfg.ws_url, cfg.api_secret) as conn:
            session = await conn.create_session()
            control = await session.attach_videoroom()
            spec = RoomSpec(room="bench", secret=secrets.token_urlsafe(12))
            await control.create_room(spec, admin_key=cfg.admin_key)
            cpu0, _ = proc_stats(proc.pid)
            for i in range(runs):
                pub = Publisher(session, spec.room, f"p{i}")
                t0 = time.monotonic()
                await pub.publish()
                t1 = time.monotonic()
                sub = Subscriber(session, spec.room)
                await sub.subscribe([pub.id])
                await sub.wait_frames("video", 1)
                t2 = time.monotonic()
                publish.append(t1 - t0)
                first.append(t2 - t1)
                await sub.close()
                await pub.close()
            cpu1, rss = proc_stats(proc.pid)
            await control.destroy_room(spec.room, secret=spec.secret)
    finally:
        await proc.stop()
    print(f"runs: {runs}")
    print(f"publish (join → webrtcup): median {statistics.median(publish) * 1000:.0f} ms, "
          f"p90 {pct(publish, 0.9) * 1000:.0f} ms")
    print(f"subscribe → first video frame: median {statistics.median(first) * 1000:.0f} ms, "
          f"p90 {pct(first, 0.9) * 1000:.0f} ms, max {max(first) * 1000:.0f} ms")
    print(f"Janus: {cpu1 - cpu0:.2f} CPU s over the runs, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    asyncio.run(main(ap.parse_args().runs))
