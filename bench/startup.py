"""Time from launching ``concord serve`` to the first 200 on /healthz, against a bare aiohttp app.

    python bench/startup.py [--runs 7]

Each run launches a fresh subprocess and polls /healthz every 5 ms. Two Concord cases: "warm" (an
existing, migrated database with the demo network) and "cold" (a new data directory: the secret key is
generated and every migration runs). The baseline, measured in the same run, is a bare aiohttp app
with one /healthz handler, started the same way. Prints medians, the ratio and peak RSS.
Goal (issue 2): ready in under 2 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/x.py`: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import env, free_port, machine, median, peak_rss_mib, python, stop, wait_for_200  # noqa: E402

BARE = """
import sys
from aiohttp import web

async def healthz(request):
    return web.json_response({"status": "ok"})

app = web.Application()
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def one(cmd: list[str], port: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ready = wait_for_200(proc, port, "/healthz", t0)
        rss = peak_rss_mib(proc.pid)
    finally:
        stop(proc)
    return ready, rss


def concord_cmd(data: Path, port: int) -> list[str]:
    return [python(), "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm"
        subprocess.run([python(), "-m", "server", "demo", "--data-dir", str(warm)], env=env(), check=True,
                       stdout=subprocess.DEVNULL)
        results: dict[str, list[tuple[float, float]]] = {"bare": [], "warm": [], "cold": []}
        # Interleave the cases so drift in machine load hits them all alike.
        for i in range(args.runs):
            port = free_port()
            results["bare"].append(one([python(), "-c", BARE, str(port)], port))
            port = free_port()
            results["warm"].append(one(concord_cmd(warm, port), port))
            port = free_port()
            results["cold"].append(one(concord_cmd(Path(tmp) / f"cold{i}", port), port))

    bare = median([r for r, _ in results["bare"]])
    print(f"machine: {machine()}; {args.runs} runs each, medians")
    print(f"{'case':<34} {'ready (s)':>10} {'min':>7} {'max':>7} {'x bare':>7} {'peak RSS MiB':>13}")
    labels = {"bare": "bare aiohttp app (baseline)", "warm": "concord serve, existing demo DB",
              "cold": "concord serve, new data dir"}
    for key in ("bare", "warm", "cold"):
        ready = [r for r, _ in results[key]]
        rss = max(m for _, m in results[key])
        print(f"{labels[key]:<34} {median(ready):>10.3f} {min(ready):>7.3f} {max(ready):>7.3f} "
              f"{median(ready) / bare:>7.2f} {rss:>13.1f}")
    worst = max(median([r for r, _ in results[k]]) for k in ("warm", "cold"))
    print(f"goal: ready < 2 s -> {'met' if worst < 2 else 'NOT met'} (slowest median {worst:.3f} s)")


if __name__ == "__main__":
    main()
