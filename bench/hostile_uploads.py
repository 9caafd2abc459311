"""Peak memory of a real server under hostile uploads to the public ``POST /api/verify``.

One ``concord serve`` process; for each file, its peak RSS (VmHWM, reset through /proc/<pid>/clear_refs
before each upload) while it answers, beside the baseline of the same server verifying a genuine
agreement PDF in the same run (ratio), and the stated bound (docs/security.md, "Hostile input"):

- baseline: a genuine 5-page export with 4 signatures, verified in full (200);
- flate_bomb: 14 embedded manifests of 64 MiB of zeros each (896 KiB; the finding took 157 MB to 1.1 GB);
- content_bomb, wrapped_flate_bomb, deep_page_tree, deep_nesting, many_objects (tests/support/bombs.py);
- largest_accepted: a 19.9 MiB file whose embedded manifest inflates to just under the total limit, the
  most a file within every limit makes the parser hold;
- 16 flate bombs and 16 largest_accepted at once (AT_ONCE=16): two verifications run at a time, four wait,
  the rest are refused with 429.

    python bench/hostile_uploads.py
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import env, free_port, machine, peak_rss_mib, python, stop, wait_for_200  # noqa: E402
from server.agreements.export import export_agreement_pdf  # noqa: E402
from server.agreements.keys import Keyring  # noqa: E402
from server.agreements.manifest import MANIFEST_NAME  # noqa: E402
from server.config import _load_secret  # noqa: E402
from server.security.uploads import MIB, PDF_LIMITS  # noqa: E402
from tests.support import bombs  # noqa: E402
from tests.support.agreement_sample import sample_content, signed_sample  # noqa: E402

# The stated bound: the genuine baseline's peak plus this much, whatever the file (docs/security.md).
BOUND_ABOVE_BASELINE_MIB = 480  # 2 verifications x 160 MiB running + 4 waiting x 40 MiB


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)


def post(port: int, data: bytes) -> tuple[int, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/verify", data=data, method="POST",
                                 headers={"Content-Type": "application/pdf"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            body = json.loads(r.read())
            return r.status, "ok" if body.get("ok") else str(body.get("check"))
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        return e.code, body["error"]["code"]


def largest_accepted() -> bytes:
    """Just under every limit: 19.9 MiB on disk, an embedded manifest inflating to 31 MiB."""
    inflated = (PDF_LIMITS.max_inflated - MIB) // MIB
    manifest = bombs.stream(bombs.zeros_deflated(inflated), b"/Type /EmbeddedFile")
    filespec = b"<< /Type /Filespec /F (%s) /EF << /F 4 0 R >> >>" % MANIFEST_NAME.encode()
    pad_len = int(19.9 * MIB) - len(manifest) - 4096
    padding = bombs.stream(os.urandom(pad_len), filters=b"")
    names = b" /Names << /EmbeddedFiles << /Names [(%s) 5 0 R] >> >>" % MANIFEST_NAME.encode()
    return bombs.raw_pdf(bombs._page_doc([manifest, filespec, padding], names))


def main() -> int:
    data = Path(tempfile.mkdtemp(prefix="concord-hostile-"))
    ring = Keyring(data / "agreement_keys", _load_secret(data))  # the server's own keys: a 200 baseline
    d, sealer = signed_sample(ring, sample_content(parties=2, obligations=6, padding=20))
    genuine = export_agreement_pdf(d, ring.public_keys(), sealer)

    files = {"genuine (baseline)": genuine, **{name: make() for name, make in bombs.PDF_BOMBS.items()},
             "largest_accepted": largest_accepted()}
    port = free_port()
    proc = subprocess.Popen([python(), "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)],
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows: list[tuple] = []
    idle = 0.0
    try:
        wait_for_200(proc, port, "/healthz", time.perf_counter(), 90)
        post(port, genuine)  # warm: the first verification imports pypdf and pyHanko
        idle = rss_mib(proc.pid)
        # Smallest footprint first: freed memory stays with the process (glibc arenas), so a reset peak
        # starts from the RSS left by the files before (shown as "RSS before").
        for name, body in files.items():
            before = rss_mib(proc.pid)
            reset_peak(proc.pid)
            t = time.perf_counter()
            status, code = post(port, body)
            rows.append((name, len(body), status, code, before, peak_rss_mib(proc.pid), time.perf_counter() - t))
            if name == "many_objects":
                rows.append(at_once(port, proc.pid, "flate_bomb", files["flate_bomb"]))
        rows.append(at_once(port, proc.pid, "largest_accepted", files["largest_accepted"]))
    finally:
        stop(proc)
    err = proc.stderr.read() if proc.stderr else ""
    report(rows, idle, err)
    baseline = rows[0][5]
    worst = max(r[5] for r in rows)
    return 0 if worst <= baseline + BOUND_ABOVE_BASELINE_MIB and "unhandled error" not in err else 1


AT_ONCE = int(os.environ.get("AT_ONCE", "16"))  # 2 run, 4 wait, the rest get 429


def at_once(port: int, pid: int, name: str, body: bytes) -> tuple:
    before = rss_mib(pid)
    reset_peak(pid)
    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(AT_ONCE) as ex:
        answers = list(ex.map(lambda b: post(port, b), [body] * AT_ONCE))
    status, code = answers[0]
    mixed = "" if all(a == answers[0] for a in answers) else " (mixed)"
    return (f"{AT_ONCE} × {name} at once", AT_ONCE * len(body), status, code + mixed, before, peak_rss_mib(pid),
            time.perf_counter() - t)


def report(rows: list[tuple], idle: float, err: str) -> None:
    baseline = rows[0][5]
    bound = baseline + BOUND_ABOVE_BASELINE_MIB
    print(f"machine: {machine()}; server idle RSS {idle:.0f} MiB after one warm-up verification")
    print(f"limits: {PDF_LIMITS.max_inflated // MIB} MiB inflated in total, {PDF_LIMITS.max_objects} objects, "
          f"depth {PDF_LIMITS.max_depth}, upload 20 MiB; 2 verifications at a time")
    print(f"stated bound: baseline peak + {BOUND_ABOVE_BASELINE_MIB} MiB = {bound:.0f} MiB")
    print(f"{'file':30} {'size':>10} {'answer':>25} {'RSS before':>10} {'peak RSS':>9} {'ratio':>6} {'time':>7}")
    worst = 0.0
    for name, size, status, code, before, peak, secs in rows:
        worst = max(worst, peak)
        print(f"{name:30} {size / 1024:>7.0f}KiB {f'{status} {code}':>25} {before:>7.0f}MiB {peak:>6.0f}MiB "
              f"{peak / baseline:>6.2f} {secs:>6.2f}s")
    print(f"worst peak {worst:.0f} MiB: {'within' if worst <= bound else 'OVER'} the bound; "
          f"server errors logged: {'yes' if 'unhandled error' in err else 'none'}")


if __name__ == "__main__":
    raise SystemExit(main())
