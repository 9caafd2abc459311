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
from server.agreements.keys import Keyring, TrustedKeys  # noqa: E402
from server.agreements.pdf import render_plain_text  # noqa: E402
from server.agreements.sample import sample_content, signed_sample  # noqa: E402
from server.agreements.verify import verify_pdf  # noqa: E402


def timed(fn, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times = []
    out = None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def rate(fn, seconds: float) -> float:  # type: ignore[no-untyped-def]
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
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

    full_s, pdf = timed(lambda: export_agreement_pdf(d, keys, sealer), args.runs)
    nopades_s, _ = timed(lambda: export_agreement_pdf(d, keys, sealer, pades=False), args.runs)
    plain_s, plain = timed(lambda: render_plain_text("人民调解协议书", d.text, "plain"), args.runs)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)  # type: ignore[arg-type]
    signers = len(d.records)

    trusted = TrustedKeys(keys, "bench")
    assert verify_pdf(pdf, trusted).ok  # type: ignore[arg-type]
    verify_rate = rate(lambda: verify_pdf(pdf, trusted), args.seconds)  # type: ignore[arg-type]
    sha_rate = rate(lambda: hashlib.sha256(pdf).digest(), min(args.seconds, 1.0))  # type: ignore[arg-type]
    parse_rate = rate(lambda: len(PdfReader(io.BytesIO(pdf)).pages), args.seconds)  # type: ignore[arg-type]
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"agreement: {pages} pages, {signers} signers, {len(pdf) // 1024} KiB (plain baseline "  # type: ignore[arg-type]
          f"{len(plain) // 1024} KiB)")  # type: ignore[arg-type]
    print(f"render+export median of {args.runs}: {full_s * 1000:.0f} ms  (goal < 1000 ms: "
          f"{'met' if full_s < 1 else 'NOT met'})")
    print(f"  of which the PAdES signature (pyHanko): {(full_s - nopades_s) * 1000:.0f} ms")
    print(f"baseline plain CJK PDF of the same text: {plain_s * 1000:.0f} ms  ratio {full_s / plain_s:.2f}x")
    print(f"offline verifications: {verify_rate:.1f}/s ({1000 / verify_rate:.1f} ms each)")
    print(f"baseline pypdf parse only: {parse_rate:.0f}/s  ratio {parse_rate / verify_rate:.1f}x faster; "
          f"sha256 of the file: {sha_rate:.0f}/s")
    print(f"peak RSS: {rss_mib:.0f} MiB; load average during the run: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
