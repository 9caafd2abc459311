"""``concord prune`` and ``concord verify-recordings`` (registered through server.cli.EXTRA_COMMANDS)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import datetime

from sqlalchemy import select

from server import ledger
from server.cli import EXTRA_COMMANDS, _with_db
from server.config import Config
from server.db import Database
from server.ledger_store import events, verify_chain
from server.recording.models import Recording
from server.recording.retention import RetentionError, parse_retention, prune


def _data_dir(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--data-dir", default="data", help="data directory (default ./data)")


async def _prune(db: Database, args: argparse.Namespace) -> int:
    import os

    cfg = Config.load(args.data_dir)
    try:
        days = parse_retention(os.environ.get("CONCORD_RETENTION_DAYS"))
    except RetentionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    now = None
    if args.now:
        try:
            now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        except ValueError:
            print("error: --now must be an ISO 8601 time", file=sys.stderr)
            return 2
        if now.tzinfo is None:
            print("error: --now needs a time zone (e.g. 2027-01-01T00:00:00Z)", file=sys.stderr)
            return 2
    report = await prune(db, cfg.recordings_dir, days, now=now, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for r in report.deleted:
        print(f"{verb} session {r.session_id} {r.artefact} {r.path} sha256={r.sha256}")
    kept = ", ".join(f"{k}={'forever' if v is None else f'{v}d'}" for k, v in days.items())
    print(f"{verb} {len(report.deleted)} recording(s), {report.bytes} bytes (retention: {kept})")
    return 0


async def _verify_recordings(db: Database, args: argparse.Namespace) -> int:
    """Every kept file's SHA-256 against its row and against the ledger event that recorded it."""
    cfg = Config.load(args.data_dir)
    chain = ledger.session_chain(args.session)
    bad = 0
    async with db.session() as s:
        v = await verify_chain(s, chain)
        evs = await events(s, chain)
        rows = list((await s.execute(select(Recording).where(Recording.session_id == args.session)
                                     .order_by(Recording.artefact, Recording.track_no, Recording.segment_index))).scalars())
    if not v.ok:
        print(f"ledger: {v}")
        return 1
    ledgered: dict[str, str] = {}
    for e in evs:
        if e.type in ("recording_segment", "segment_recovered", "playback_composed", "track_file_made"):
            ledgered[e.data["path"]] = e.data["sha256"]
    checked = 0
    for r in rows:
        if r.status not in ("closed", "recovered"):
            print(f"{r.status:<10} {r.path}{' (' + r.error + ')' if r.error else ''}")
            continue
        path = cfg.recordings_dir / r.path
        if not path.is_file():
            print(f"MISSING    {r.path}")
            bad += 1
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        ok = digest == r.sha256 == ledgered.get(r.path)
        checked += 1
        if not ok:
            bad += 1
        print(f"{'ok' if ok else 'MISMATCH':<10} {r.path} {digest}")
    print(f"{'OK' if not bad else 'BAD'} {checked} file(s) checked, {bad} problem(s); ledger {v}")
    return 0 if not bad else 1


def _configure_prune(sp: argparse.ArgumentParser) -> None:
    sp.description = "Delete recordings past their retention period (CONCORD_RETENTION_DAYS); hashes are kept."
    sp.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    sp.add_argument("--now", help="pretend it is this time (ISO 8601, for audits and tests)")
    _data_dir(sp)


def _configure_verify(sp: argparse.ArgumentParser) -> None:
    sp.description = "Check each recording file of a session against its hash in the database and the ledger."
    sp.add_argument("--session", type=int, required=True)
    _data_dir(sp)


EXTRA_COMMANDS["prune"] = (_configure_prune, _with_db(_prune))
EXTRA_COMMANDS["verify-recordings"] = (_configure_verify, _with_db(_verify_recordings))
