"""Agreement export and offline verification on this machine: before and after manifest format 2.

Figures, each beside baselines measured in the same run:
- rendering the full export of a 5-page agreement with 4 signers (2 parties, the mediator, the seal):
  drawing, signature images, seal, certificate page with QR code, export seal, embedded manifest, PAdES.
  *Before*: manifest format 1 (a digest per page over a walk of the pypdf objects, no ledger proof).
  *After*: format 2 (SHA-256 of the drawn bytes, plus the inclusion proof of the effective ledger event in a
  tree of ``--tree`` events). Goal: under 1 s. Baselines: the agreement drawn without any signing (the
  render alone), and the same text as a plain PDF in the same embedded CJK font.
- offline verifications per second (``verify_pdf``, PAdES included) of the before and after files, beside
  a bare pypdf parse and SHA-256 of the same file.
- peak RSS of the process.

    python bench/agreements.py [--runs 7] [--seconds 5] [--tree 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypdf import PdfReader  # noqa: E402

from server import ledger  # noqa: E402
from server.agreements import ledger_proof  # noqa: E402
from server.agreements.export import (  # noqa: E402
    Sealer,
    attach_manifest,
    build_manifest,
    export_agreement_pdf,
    pades_sign,
)
from server.agreements.keys import Keyring, key_id_of  # noqa: E402
from server.agreements.manifest import MANIFEST_FORMAT_V1, export_record_v1, page_digests  # noqa: E402
from server.agreements.pdf import PdfInput, render_agreement, render_plain_text  # noqa: E402
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


def export_v1(d: PdfInput, keys: list, sealer: Sealer) -> bytes:
    """The export as it was before manifest format 2: the per-page digest walk, no ledger proof."""
    raw = render_agreement(d)
    record = export_record_v1(d.content.number, d.version, d.document_hash,
                              page_digests(PdfReader(io.BytesIO(raw))), d.exported_at, sealer.unit, sealer.key_id)
    manifest = build_manifest(d, keys, record, sealer.sign(record))
    manifest["format"] = MANIFEST_FORMAT_V1
    del manifest["ledger"]
    return pades_sign(attach_manifest(raw, manifest), sealer, d)


def proof_in_tree(d: PdfInput, n: int) -> tuple[dict, str]:
    """The ``ledger`` member for ``d``'s effective event as leaf n - 5 of a tree of ``n`` events."""
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    at = datetime(2026, 1, 15, 2, 5, tzinfo=UTC)
    events, last = [], None
    for i in range(n):
        if i == n - 5:
            ev = ledger.make_event("case:1", last, "agreement.effective", {
                "agreement": 1, "number": d.content.number, "version": d.version, "document_hash": d.document_hash,
                "signatures": len(d.records)}, at)
        else:
            ev = ledger.make_event("case:1", last, "case.note", {"i": i}, at)
        events.append(ev)
        last = ev
    key = Ed25519PrivateKey.generate()
    kid = key_id_of(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    path, head = ledger_proof.standalone(events, n - 5, ledger.epoch_ms(at), kid, key)
    return ledger_proof.entry(events[n - 5], n - 5, path, head), kid


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=5.0, help="time per throughput figure")
    ap.add_argument("--tree", type=int, default=100_000, help="events in the ledger tree the proof is from")
    args = ap.parse_args()

    ring = Keyring(Path(tempfile.mkdtemp(prefix="concord-bench-")), b"bench-secret")
    keys: list = []
    for padding in range(30, 0, -1):  # the longest text that still makes exactly 5 pages
        d, sealer = signed_sample(ring, sample_content(parties=2, obligations=6, padding=padding))
        keys = ring.public_keys()
        if len(PdfReader(io.BytesIO(export_agreement_pdf(d, keys, sealer))).pages) == 5:
            break

    proof, city = proof_in_tree(d, args.tree)
    before_s, old = timed(lambda: export_v1(d, keys, sealer), args.runs, "before")
    full_s, pdf = timed(lambda: export_agreement_pdf(d, keys, sealer, proof=proof), args.runs, "full")
    nopades_s, _ = timed(lambda: export_agreement_pdf(d, keys, sealer, pades=False, proof=proof), args.runs,
                         "nopades")
    drawn_s, _ = timed(lambda: render_agreement(d), args.runs, "drawn")
    plain_s, plain = timed(lambda: render_plain_text("人民调解协议书", d.text, "plain"), args.runs, "plain")
    pages = len(PdfReader(io.BytesIO(pdf)).pages)  # type: ignore[arg-type]
    signers = len(d.records)

    trusted = ring.trusted("bench")  # its keys, the city root and the CRL
    after_ok = verify_pdf(pdf, trusted, ledger_keys={city})  # type: ignore[arg-type]
    assert after_ok.ok and after_ok.ledger_proof.startswith("verified"), after_ok.failures
    assert verify_pdf(old, trusted).ok  # type: ignore[arg-type]
    verify_rate = rate(lambda: verify_pdf(pdf, trusted, ledger_keys={city}), args.seconds,  # type: ignore[arg-type]
                       "verify")
    before_rate = rate(lambda: verify_pdf(old, trusted), args.seconds, "verify_before")  # type: ignore[arg-type]
    manifest_rate = rate(lambda: verify_pdf(pdf, trusted, check_pades=False, ledger_keys={city}),  # type: ignore[arg-type]
                         args.seconds, "manifest")
    manifest_before = rate(lambda: verify_pdf(old, trusted, check_pades=False), args.seconds,  # type: ignore[arg-type]
                           "manifest_before")
    sha_rate = rate(lambda: hashlib.sha256(pdf).digest(), min(args.seconds, 1.0))  # type: ignore[arg-type]
    parse_rate = rate(lambda: len(PdfReader(io.BytesIO(pdf)).pages), args.seconds, "parse")  # type: ignore[arg-type]
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    ledger_bytes = len(json.dumps(proof, ensure_ascii=False, sort_keys=True, indent=1).encode())
    print(f"agreement: {pages} pages, {signers} signers; after {len(pdf) // 1024} KiB, before "  # type: ignore[arg-type]
          f"{len(old) // 1024} KiB (plain baseline {len(plain) // 1024} KiB); the inclusion proof "  # type: ignore[arg-type]
          f"(leaf {args.tree - 5:,} of {args.tree:,}, {len(proof['path'])} hashes) adds {ledger_bytes} bytes")
    print(f"export median of {args.runs}, wall / CPU (goal < 1000 ms wall: {'met' if full_s < 1 else 'NOT met'}):")
    print(f"  after  (format 2, drawn-bytes hash + ledger proof): {full_s * 1000:.0f} / {CPU['full'] * 1000:.0f} ms")
    print(f"  before (format 1, per-page digest walk, no proof):  {before_s * 1000:.0f} / "
          f"{CPU['before'] * 1000:.0f} ms; after/before {CPU['full'] / CPU['before']:.2f}x CPU")
    print(f"  after, without the PAdES signature: {nopades_s * 1000:.0f} / {CPU['nopades'] * 1000:.0f} ms")
    print(f"  baseline, the agreement drawn without signing: {drawn_s * 1000:.0f} / {CPU['drawn'] * 1000:.0f} ms; "
          f"after/drawn {CPU['full'] / CPU['drawn']:.2f}x CPU, before/drawn {CPU['before'] / CPU['drawn']:.2f}x CPU")
    print(f"  baseline, plain CJK PDF of the same text: {plain_s * 1000:.0f} / {CPU['plain'] * 1000:.0f} ms; "
          f"after/plain {CPU['full'] / CPU['plain']:.2f}x CPU")
    print(f"offline verifications per CPU second (wall/s in brackets), PAdES included: after "
          f"{RATE_CPU['verify']:.1f} ({verify_rate:.1f}), before {RATE_CPU['verify_before']:.1f} ({before_rate:.1f}); "
          f"after/before {RATE_CPU['verify'] / RATE_CPU['verify_before']:.2f}x")
    print(f"  manifest checks alone (no PAdES): after {RATE_CPU['manifest']:.1f} ({manifest_rate:.1f}), before "
          f"{RATE_CPU['manifest_before']:.1f} ({manifest_before:.1f}); after/before "
          f"{RATE_CPU['manifest'] / RATE_CPU['manifest_before']:.2f}x")
    print(f"baseline pypdf parse only: {parse_rate:.0f}/s wall, {RATE_CPU['parse']:.0f} per CPU second "
          f"(verification costs {RATE_CPU['parse'] / RATE_CPU['verify']:.1f}x a bare parse); "
          f"sha256 of the file: {sha_rate:.0f}/s")
    print(f"peak RSS: {rss_mib:.0f} MiB; load average during the run: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
