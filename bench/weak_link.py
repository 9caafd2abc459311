"""Weak link: what a party behind 500 kbps, 5% loss and a 200 ms round trip receives, SFU against mesh.

    python bench/weak_link.py [--seconds 15] [--delay-ms 100] [--loss 0.05] [--rate-kbps 500]

Starts its own Janus (``server.sfu.process``) and coturn (``tests/support/turn.py``), both on free
ports with generated credentials, an impairing UDP relay in front of coturn
(``tests/support/impair.py``) and Debian's Chromium as the party (``tests/support/weak_link.py``). The
aiortc mediator publishes 640x360 15 fps video and a tone; the party receives it through Janus, then
peer-to-peer over the same emulated link. Prints both paths' figures from the party's getStats(), the
SFU/mesh ratio, and the peak RSS of Janus, coturn, Chromium's processes and this process.
Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import peak_rss_mib  # noqa: E402
from server.sfu.jcfg import JanusConfig  # noqa: E402
from server.sfu.process import JanusProcess, free_ports, janus_binary, local_ipv4  # noqa: E402
from tests.support.impair import ImpairedRelay, Impairment  # noqa: E402
from tests.support.turn import Coturn, turnserver_binary  # noqa: E402
from tests.support.weak_link import CHROMIUM_ARGS, Figures, run_mesh, run_sfu  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def verdict(f: Figures) -> str:
    if f.sent_fps < 13.5:
        return "starved"  # the mediator could not even send its 15 frames/s: the machine is overloaded
    return "met" if f.meets_target() else "MISSED"


def chromium_rss_mib(browser_pid: int | None) -> float:
    """Sum of the peak RSS of the Chromium processes under the Playwright driver (an over-estimate:
    shared pages are counted once per process)."""
    total = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmd = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(CHROMIUM.encode()) or b"/chromium/chromium" in cmd[:80]:
            total += next((int(line.split()[1]) / 1024 for line in text.splitlines()
                           if line.startswith("VmHWM:")), 0.0)
    return total


async def main(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    if janus_binary() is None or turnserver_binary() is None or not Path(CHROMIUM).exists():
        sys.exit("needs janus, coturn and chromium (apt-get install janus coturn chromium)")
    ip = local_ipv4()
    if ip is None:
        sys.exit("Janus needs a non-loopback IPv4 address")
    imp = Impairment(rate_bps=args.rate_kbps * 1000, delay_s=args.delay_ms / 1000, loss=args.loss, seed=args.seed)
    ws, http, admin = free_ports(3)
    cfg = JanusConfig(api_secret=secrets.token_urlsafe(24), admin_secret=secrets.token_urlsafe(24),
                      admin_key=secrets.token_urlsafe(24), ws_port=ws, http_port=http, admin_port=admin,
                      ice_enforce_list=ip, rtp_port_range=(37000, 37199),
                      extra={"media": {"min_nack_queue": args.nack_queue_ms}} if args.nack_queue_ms else {})
    janus = JanusProcess(cfg, Path(tempfile.mkdtemp(prefix="concord-bench-janus-")))
    turn = Coturn(relay_ip=ip, workdir=Path(tempfile.mkdtemp(prefix="concord-bench-turn-")))
    await janus.start()
    await turn.astart()
    results: list[Figures] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                for path in args.paths:
                    imp_run = Impairment(**{**imp.__dict__})
                    async with ImpairedRelay(turn.address, imp_run) as relay:
                        if path == "sfu":
                            fig = await run_sfu(browser, relay, turn.username, turn.password, cfg.ws_url,
                                                cfg.api_secret, cfg.admin_key, warmup=args.warmup,
                                                seconds=args.seconds, room_bitrate=args.room_kbps * 1000,
                                                fir_freq=args.fir_freq)
                        else:
                            cap = args.room_kbps * 1000 if path == "mesh-capped" else None
                            fig = await run_mesh(browser, relay, turn.username, turn.password,
                                                 warmup=args.warmup, seconds=args.seconds, video_cap=cap)
                    results.append(fig)
                    print(fig.line(), flush=True)
                chromium_mib = chromium_rss_mib(None)
            finally:
                await browser.close()
        assert janus.pid is not None and turn.proc is not None
        janus_mib = peak_rss_mib(janus.pid)
        turn_mib = peak_rss_mib(turn.proc.pid)
    finally:
        turn.stop()
        await janus.stop()
    me_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nlink: {args.rate_kbps} kbps each way, {args.delay_ms:g} ms one way ({2 * args.delay_ms:g} ms RTT), "
          f"{args.loss:.0%} loss each way, queue {imp.queue_bytes} B; window {args.seconds:g} s after "
          f"{args.warmup:g} s warm-up; SFU room bitrate cap {args.room_kbps} kbps, Janus min_nack_queue "
          f"{args.nack_queue_ms or 'default (200)'} ms")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'path':<14}{'sent fps':>9}{'recv fps':>9}{'video kbps':>11}{'concealed':>11}{'events':>8}"
          f"{'overflow':>9}{'target':>8}")
    for f in results:
        print(f"{f.path:<14}{f.sent_fps:>9.1f}{f.video_fps:>9.1f}{f.video_kbps:>11.0f}{f.audio_concealment:>11.2%}"
              f"{f.concealment_events:>8}{f.link_down.get('overflow', 0):>9}{verdict(f):>8}")
    sfu = next((f for f in results if f.path.startswith("SFU")), None)
    for mesh in (f for f in results if f.path.startswith("mesh")):
        if sfu is not None:
            fps = f"x{sfu.video_fps / mesh.video_fps:.2f}" if mesh.video_fps else "inf"
            print(f"SFU / {mesh.path}: video fps {fps}, concealed audio "
                  f"x{sfu.audio_concealment / max(mesh.audio_concealment, 1e-9):.2f}")
    print(f"peak RSS: Janus {janus_mib:.0f} MiB, coturn {turn_mib:.0f} MiB, Chromium (all processes) "
          f"{chromium_mib:.0f} MiB, bench process (mediator, relay, signalling) {me_mib:.0f} MiB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--rate-kbps", type=int, default=500)
    ap.add_argument("--delay-ms", type=float, default=100.0, help="one way (the round trip is twice this)")
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--room-kbps", type=int, default=300, help="Janus room bitrate cap (REMB to the publisher)")
    ap.add_argument("--fir-freq", type=int, default=10,
                    help="VideoRoom fir_freq: a key-frame request to the publisher every N s (0: never)")
    ap.add_argument("--nack-queue-ms", type=int, default=0,
                    help="Janus's min_nack_queue in ms (0: its default, 200; Janus 1.1 grows the queue with the RTT)")
    ap.add_argument("--paths", nargs="+", default=["sfu", "mesh-capped", "mesh"],
                    choices=["sfu", "mesh-capped", "mesh"],
                    help="mesh-capped: the mesh with the mediator's VP8 capped like the SFU room")
    asyncio.run(main(ap.parse_args()))
