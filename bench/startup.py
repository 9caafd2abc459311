"""Time from launching ``concord serve`` to the first 200 on /healthz, and memory at that moment.

    python bench/startup.py [--runs 7] [--base REF]

Each run launches a fresh subprocess and polls /healthz every 5 ms. Two Concord cases: "warm" (an
existing, migrated database with the demo network) and "cold" (a new data directory: the secret key is
generated and every migration runs). The floor, measured in the same run, is a bare aiohttp app with one
/healthz handler, started the same way. For each case: median ready time, RSS when /healthz first
answers (VmRSS), the peak resident set up to then (VmHWM) and the CPU seconds used up to then (user +
system; barely moved by other load on the machine, unlike the wall time).

``--base REF`` (a commit, branch or tag of this repository) measures that version too, side by side:
the script makes a throwaway ``git worktree`` of REF in a temporary directory, runs its ``concord serve``
interleaved with this checkout's, prints this/base ratios, and removes the worktree at the end.
Goal (issue 2): ready in under 2 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/x.py`: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, env, free_port, machine, median, peak_rss_mib, python, stop, wait_for_200  # noqa: E402

BARE = """
import sys
from aiohttp import web

async def healthz(request):
    return web.json_response({"status": "ok"})

app = web.Application()
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def rss_mib(pid: int) -> float:
    """VmRSS (resident set now) of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a live process has used: unlike wall time, hardly moved by other load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Sample = tuple[float, float, float, float]  # ready s, RSS MiB at ready, peak RSS MiB, CPU s to ready


def one(cmd: list[str], port: int, checkout: Path) -> Sample:
    """Seconds to the first 200, RSS then, peak RSS then and CPU seconds then, of one fresh process."""
    t0 = time.perf_counter()
    # cwd and PYTHONPATH both name the checkout: `python -m server` imports that tree's code.
    proc = subprocess.Popen(cmd, env=env(PYTHONPATH=str(checkout)), cwd=checkout, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready = wait_for_200(proc, port, "/healthz", t0)
        rss, peak, cpu = rss_mib(proc.pid), peak_rss_mib(proc.pid), cpu_s(proc.pid)
    finally:
        stop(proc)
    return ready, rss, peak, cpu


def concord_cmd(data: Path, port: int) -> list[str]:
    return [python(), "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)]


def add_worktree(ref: str, where: Path) -> str:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(where), ref], check=True)
    return subprocess.run(["git", "-C", str(where), "log", "-1", "--format=%h %s"], check=True,
                          capture_output=True, text=True).stdout.strip()[:72]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--base", metavar="REF", help="also measure this commit of the repository, side by side")
    args = ap.parse_args()
    # A SIGTERM (timeout, CI) unwinds like Ctrl-C, so the throwaway worktree is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        checkouts = {"this": ROOT}
        described = {"this": subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                                            capture_output=True, text=True).stdout.strip()[:72] + " (+ work tree)"}
        if args.base:
            checkouts["base"] = tmp / "base"
            described["base"] = add_worktree(args.base, checkouts["base"])
        try:
            results = measure(tmp, checkouts, args.runs)
        finally:
            if args.base:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkouts["base"])],
                               check=False)
    report(results, described, args.runs)


def measure(tmp: Path, checkouts: dict[str, Path], runs: int) -> dict[str, list[Sample]]:
    for name, checkout in checkouts.items():
        subprocess.run([python(), "-m", "server", "demo", "--data-dir", str(tmp / f"warm-{name}")],
                       env=env(PYTHONPATH=str(checkout)), cwd=checkout, check=True, stdout=subprocess.DEVNULL)
    results: dict[str, list[Sample]] = {"bare": []}
    # Interleave every case so drift in machine load hits them all alike.
    for i in range(runs):
        port = free_port()
        results["bare"].append(one([python(), "-c", BARE, str(port)], port, ROOT))
        for name, checkout in checkouts.items():
            port = free_port()
            results.setdefault(f"warm-{name}", []).append(one(concord_cmd(tmp / f"warm-{name}", port), port, checkout))
            port = free_port()
            results.setdefault(f"cold-{name}", []).append(
                one(concord_cmd(tmp / f"cold-{name}-{i}", port), port, checkout))
    return results


def report(results: dict[str, list[Sample]], described: dict[str, str], runs: int) -> None:
    bare = median([r[0] for r in results["bare"]])
    print(f"machine: {machine()}; {runs} runs each, medians")
    for name, what in described.items():
        print(f"{name}: {what}")
    print(f"{'case':<36} {'ready (s)':>10} {'min':>7} {'max':>7} {'x bare':>7} {'RSS MiB':>8} {'peak MiB':>9} {'CPU s':>6}")
    labels = {"bare": "bare aiohttp app (floor)"}
    for name in described:
        labels[f"warm-{name}"] = f"{name}: serve, existing demo DB"
        labels[f"cold-{name}"] = f"{name}: serve, new data dir"
    for key, label in labels.items():
        ready = [r[0] for r in results[key]]
        print(f"{label:<36} {median(ready):>10.3f} {min(ready):>7.3f} {max(ready):>7.3f} "
              f"{median(ready) / bare:>7.2f} {median([r[1] for r in results[key]]):>8.1f} "
              f"{max(r[2] for r in results[key]):>9.1f} {median([r[3] for r in results[key]]):>6.2f}")
    if "base" in described:
        print("this / base:")
        for case in ("warm", "cold"):
            this, base = results[f"{case}-this"], results[f"{case}-base"]
            print(f"  {case}: ready {median([r[0] for r in this]) / median([r[0] for r in base]):.2f}x, "
                  f"RSS at ready {median([r[1] for r in this]) / median([r[1] for r in base]):.2f}x, "
                  f"peak RSS {max(r[2] for r in this) / max(r[2] for r in base):.2f}x, "
                  f"CPU to ready {median([r[3] for r in this]) / median([r[3] for r in base]):.2f}x")
    worst = max(median([r[0] for r in results[f"{c}-this"]]) for c in ("warm", "cold"))
    print(f"goal: ready < 2 s -> {'met' if worst < 2 else 'NOT met'} (slowest median {worst:.3f} s)")


if __name__ == "__main__":
    main()
