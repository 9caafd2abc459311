"""Checkpoints over a large ledger: the Merkle tree head, proof sizes and verify times; and what the leaf
row costs an append.

    python bench/checkpoint.py [--n 1000000] [--appends 500] [--db-events 20000]

1. Tree (in memory): ``--n`` synthetic event hashes (SHA-256 of the index; the tree only ever sees an
   event's 32-byte hash, so synthetic hashes cost the same as real ones). Tree head time beside a baseline
   in the same run: one plain SHA-256 over each of the same leaves. Inclusion proof (a leaf in the
   middle) and consistency proof (from the tree at 61.8 % of n, and at n - 17): size, time to make, median
   verify time. Peak RSS of the process.
2. Appends (SQLite and, when reachable, PostgreSQL): ``--appends`` appends, one transaction each, with
   the leaf row (``ledger_store.append``) beside the same append without it (the code before checkpoints),
   alternated in rounds so machine noise hits both alike.
3. A checkpoint signed over ``--db-events`` stored events (SQLite): integrate the pending leaves, read the
   tree, compute the head, sign.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from server import checkpoints, ledger, merkle  # noqa: E402
from server.db import Database  # noqa: E402
from server.db.base import utcnow  # noqa: E402
from server.db.migrate import upgrade  # noqa: E402
from server.ledger_store import LedgerEvent, append, lock_chain  # noqa: E402

PG_URL = os.environ.get("CONCORD_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/concord_bench_ledger")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _median_time(fn: Any, reps: int) -> float:
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def tree_part(n: int) -> dict[str, Any]:
    events = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]
    t0 = time.perf_counter()
    base = [hashlib.sha256(h).digest() for h in events]
    t_base = time.perf_counter() - t0
    del base
    t0 = time.perf_counter()
    leaves = [merkle.leaf_hash(h) for h in events]
    root = merkle.root_of_hashes(leaves)
    t_head = time.perf_counter() - t0
    out: dict[str, Any] = {"n": n, "baseline_s": t_base, "head_s": t_head, "ratio": t_head / t_base}

    i = n // 2 + 12345 if n > 30000 else n // 2
    t0 = time.perf_counter()
    path = merkle.inclusion_proof(leaves, i)
    out["incl_make_s"] = time.perf_counter() - t0
    out["incl_hashes"] = len(path)
    out["incl_bytes"] = 32 * len(path)
    assert merkle.verify_inclusion(leaves[i], i, n, path, root)
    out["incl_verify_us"] = _median_time(lambda: merkle.verify_inclusion(leaves[i], i, n, path, root), 2000) * 1e6

    # What an agreement export does (checkpoints.inclusion): the proof of a leaf signed at the end of a
    # checkpoint interval, from the previous checkpoint's frontier and that interval's leaves only.
    interval = min(3600, n - 1)
    j = n - 5  # the effective event: the hand-over's few events follow it before the checkpoint
    fr = merkle.extend([], leaves, 0, n - interval)
    t0 = time.perf_counter()
    fr_j = merkle.extend(fr, leaves, n - interval, j)
    path_j = merkle.inclusion_proof_from(fr_j, leaves[j:])
    out["incl_frontier_s"] = time.perf_counter() - t0
    out["incl_frontier_interval"] = interval
    assert path_j == merkle.inclusion_proof(leaves, j) and merkle.verify_inclusion(leaves[j], j, n, path_j, root)
    out["incl_frontier_hashes"] = len(path_j)

    for label, m in (("cons_golden", int(n * 0.618)), ("cons_tail", n - 17)):
        old = merkle.root_of_hashes(leaves, 0, m)
        t0 = time.perf_counter()
        proof = merkle.consistency_proof(leaves, m)
        out[f"{label}_m"] = m
        out[f"{label}_make_s"] = time.perf_counter() - t0
        out[f"{label}_hashes"] = len(proof)
        out[f"{label}_bytes"] = 32 * len(proof)
        assert merkle.verify_consistency(m, n, old, root, proof)
        out[f"{label}_verify_us"] = _median_time(lambda m=m, old=old, proof=proof: merkle.verify_consistency(
            m, n, old, root, proof), 2000) * 1e6
    out["peak_rss_mib"] = peak_rss_mib()
    return out


async def append_without_leaf(s: Any, chain: str, type: str, data: Any) -> None:
    """``ledger_store.append`` as it was before checkpoints: the event row only."""
    await lock_chain(s, chain)
    last = (await s.execute(select(LedgerEvent).where(LedgerEvent.chain == chain)
                            .order_by(LedgerEvent.seq.desc()).limit(1))).scalar_one_or_none()
    ev = ledger.make_event(chain, last.to_event() if last else None, type, data, utcnow())
    s.add(LedgerEvent(chain=ev.chain, seq=ev.seq, type=ev.type, at=ev.at, data=ev.data, prev_hash=ev.prev_hash,
                      hash=ev.hash, v=ev.v))
    await s.flush()


async def appends_part(url: str, n: int) -> dict[str, float]:
    db = Database(url)
    await upgrade(db)
    data = {"peer": "p1", "name": "张三", "kind": "video", "track": 1, "index": 3, "sha256": "ab" * 32,
            "bytes": 512000, "duration_s": 9.93}
    tag = f"{os.getpid()}-{time.time_ns()}"
    t = {"with": 0.0, "without": 0.0}
    rounds = 10
    for r in range(rounds):
        for kind in (("with", "without") if r % 2 == 0 else ("without", "with")):
            chain = f"bench:{kind}:{tag}"
            t0 = time.perf_counter()
            for _ in range(n // rounds):
                async with db.session() as s:
                    if kind == "with":
                        await append(s, chain, "recording_segment", data)
                    else:
                        await append_without_leaf(s, chain, "recording_segment", data)
            t[kind] += time.perf_counter() - t0
    await db.close()
    return {"with_per_s": n / t["with"], "without_per_s": n / t["without"], "ratio": t["without"] / t["with"]}


async def db_checkpoint_part(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        db = Database(f"sqlite+aiosqlite:///{d}/bench.db")
        await upgrade(db)
        t0 = time.perf_counter()
        for b in range(0, n, 1000):
            async with db.session() as s:
                for i in range(b, min(n, b + 1000)):
                    await append(s, f"case:{i % 50}", "note", {"i": i})
        t_fill = time.perf_counter() - t0
        ring = checkpoints.ledger_keyring(Path(d), b"bench-secret")
        t0 = time.perf_counter()
        async with db.session() as s:
            first = await checkpoints.sign_checkpoint(s, ring, "bench")
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        async with db.session() as s:
            await checkpoints.sign_checkpoint(s, ring, "bench")
        t_again = time.perf_counter() - t0
        t0 = time.perf_counter()
        async with db.session() as s:
            check = await checkpoints.check_log(s, first)
        t_check = time.perf_counter() - t0
        assert check.ok, check.problems
        await db.close()
    return {"n": n, "fill_s": t_fill, "first_sign_s": t_first, "again_sign_s": t_again, "check_s": t_check}


def _pg_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


async def _pg_ready(url: str) -> None:
    """Create the bench database if it is missing."""
    import asyncpg  # third-party; only when PostgreSQL is benchmarked

    base, name = url.replace("postgresql+asyncpg", "postgresql").rsplit("/", 1)
    conn = await asyncpg.connect(base + "/postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--appends", type=int, default=500)
    ap.add_argument("--db-events", type=int, default=20_000)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")

    t = tree_part(args.n)
    print(f"\n1. Merkle tree over {t['n']:,} synthetic events (in memory)")
    print(f"   tree head (leaf hashes + MTH): {t['head_s']:.2f} s; baseline, one SHA-256 per leaf: "
          f"{t['baseline_s']:.2f} s; ratio {t['ratio']:.2f}")
    print(f"   inclusion proof: {t['incl_hashes']} hashes = {t['incl_bytes']} bytes; made in "
          f"{t['incl_make_s'] * 1e3:.0f} ms; verified in {t['incl_verify_us']:.1f} µs (median)")
    print(f"   as an export makes it (leaf {args.n - 5:,}, from the frontier of the previous checkpoint and "
          f"the {t['incl_frontier_interval']:,} leaves after it): {t['incl_frontier_hashes']} hashes in "
          f"{t['incl_frontier_s'] * 1000:.1f} ms")
    for label, name in (("cons_golden", "from 61.8 %"), ("cons_tail", "from n - 17")):
        print(f"   consistency proof {name} (size {t[label + '_m']:,}): {t[label + '_hashes']} hashes = "
              f"{t[label + '_bytes']} bytes; made in {t[label + '_make_s'] * 1e3:.0f} ms; verified in "
              f"{t[label + '_verify_us']:.1f} µs (median)")
    print(f"   peak RSS: {t['peak_rss_mib']:.0f} MiB")

    print(f"\n2. Appends, one transaction each ({args.appends} per variant)")
    with tempfile.TemporaryDirectory() as d:
        urls = [("SQLite (WAL)", f"sqlite+aiosqlite:///{d}/appends.db")]
        if _pg_up():
            asyncio.run(_pg_ready(PG_URL))
            urls.append(("PostgreSQL (local)", PG_URL))
        for name, url in urls:
            a = asyncio.run(appends_part(url, args.appends))
            print(f"   {name}: with leaf row {a['with_per_s']:.0f}/s, without {a['without_per_s']:.0f}/s; "
                  f"ratio {a['ratio']:.2f}")

    c = asyncio.run(db_checkpoint_part(args.db_events))
    print(f"\n3. Checkpoint over {c['n']:,} stored events (SQLite; filled in {c['fill_s']:.1f} s)")
    print(f"   first sign (integrates every leaf): {c['first_sign_s']:.2f} s; next sign: {c['again_sign_s']:.2f} s; "
          f"verify-log --checkpoint check: {c['check_s']:.2f} s")


if __name__ == "__main__":
    main()
