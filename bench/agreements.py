"""Agreement export and offline verification on this machine.

Figures, each beside a baseline measured in the same run:
- rendering the full export of a 5-page agreement with 4 signers (2 parties, the mediator, the seal):
  drawing, signature images, seal, certificate page with QR code, page digests, export seal and the embedded
  manifest. Goal: under 1 s. Baseline: the same text drawn as a plain PDF in the same embedded CJK font,
  with nothing else (what any CJK PDF costs here).
- offline verifications per second (``verify_pdf``: parse, page digests, every Ed25519 check), beside
  SHA-256 of the same file (the floor for reading it) and a bare pypdf parse.
- peak RSS of the process.

    python bench/agreements.py [--runs 7]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypdf import PdfReader  # noqa: E402

from server.agreements.export import export_agreement_pdf  # noqa: E402
from server.agreements.keys import Keyring  # noqa: E402
from server.agreements.pdf import render_plain_text  # noqa: E402
from server.agreements.verify import verify_pdf  # noqa: E402
from tests.support.agreement_sample import sample_content, signed_sample  # noqa: E402

CPU: dict[str, float] = {}  # name -> median CPU seconds (robust when other work shares the 2 cores)


def timed(fn, runs: int, name: str = "") -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Median wall time over ``runs``; the median CPU time of the process goes to CPU[name]."""
    times, cpu = [], []
    out = None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    if name:
        CPU[name] = statistics.median(cpu)
    return statistics.median(times), out


RATE_CPU: dict[str, float] = {}  # name -> operations per CPU second


def rate(fn, seconds: float, name: str = "") -> float:  # type: ignore[no-untyped-def]
    """Operations per wall second; per CPU second goes to RATE_CPU[name]."""
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    if name:
        RATE_CPU[name] = n / max(time.process_time() - c0, 1e-9)
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=5.0, help="time per throughput figure")
    args = ap.parse_args()

    ring = Keyring(Path(tempfile.mkdtemp(prefix="concord-bench-")), b"bench-secret")
    keys: list = []
    for padding in range(30, 0, -1):  # the longest text that still makes exactly 5 pages
        d, sealer = signed_sample(ring, sample_content(parties=2, obligations=6, padding=padding))
        keys = ring.public_keys()
        if len(PdfReader(io.BytesIO(export_agreement_pdf(d, keys, sealer))).pages) == 5:
            break

    full_s, pdf = timed(lambda: export_agreement_pdf(d, keys, sealer), args.runs, "full")
    nopades_s, _ = timed(lambda: export_agreement_pdf(d, keys, sealer, pades=False), args.runs, "nopades")
    plain_s, plain = timed(lambda: render_plain_text("人民调解协议书", d.text, "plain"), args.runs, "plain")
    pages = len(PdfReader(io.BytesIO(pdf)).pages)  # type: ignore[arg-type]
    signers = len(d.records)

    trusted = ring.trusted("bench")  # its keys, the city root and the CRL
    assert verify_pdf(pdf, trusted).ok  # type: ignore[arg-type]
    verify_rate = rate(lambda: verify_pdf(pdf, trusted), args.seconds, "verify")  # type: ignore[arg-type]
    sha_rate = rate(lambda: hashlib.sha256(pdf).digest(), min(args.seconds, 1.0))  # type: ignore[arg-type]
    parse_rate = rate(lambda: len(PdfReader(io.BytesIO(pdf)).pages), args.seconds, "parse")  # type: ignore[arg-type]
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"agreement: {pages} pages, {signers} signers, {len(pdf) // 1024} KiB (plain baseline "  # type: ignore[arg-type]
          f"{len(plain) // 1024} KiB)")  # type: ignore[arg-type]
    print(f"render+export median of {args.runs}: wall {full_s * 1000:.0f} ms, CPU {CPU['full'] * 1000:.0f} ms  "
          f"(goal < 1000 ms: {'met' if full_s < 1 else 'NOT met'} on the wall clock)")
    print(f"  without the PAdES signature: wall {nopades_s * 1000:.0f} ms, CPU {CPU['nopades'] * 1000:.0f} ms")
    print(f"baseline plain CJK PDF of the same text: wall {plain_s * 1000:.0f} ms, CPU {CPU['plain'] * 1000:.0f} ms; "
          f"ratio {full_s / plain_s:.2f}x wall, {CPU['full'] / CPU['plain']:.2f}x CPU")
    print(f"offline verifications: {verify_rate:.1f}/s wall, {RATE_CPU['verify']:.1f} per CPU second "
          f"({1000 / RATE_CPU['verify']:.1f} ms CPU each)")
    print(f"baseline pypdf parse only: {parse_rate:.0f}/s wall, {RATE_CPU['parse']:.0f} per CPU second "
          f"(verification costs {RATE_CPU['parse'] / RATE_CPU['verify']:.1f}x a bare parse); "
          f"sha256 of the file: {sha_rate:.0f}/s")
    print(f"peak RSS: {rss_mib:.0f} MiB; load average during the run: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
