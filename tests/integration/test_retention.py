"""``concord prune`` deletes expired recordings, ledgers each deletion and keeps the hashes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server import ledger
from server.db import Database
from server.db.migrate import upgrade
from server.ledger_store import events, verify_chain
from server.recording.models import Recording
from server.recording.retention import RetentionError, parse_retention
from tests.conftest import cli_env
from tests.media.helpers import make_session


def test_parse_retention() -> None:
    days = parse_retention("segment=30, composite=forever")
    assert days == {"segment": 30, "track": 365, "composite": None}
    assert parse_retention(None)["segment"] == 1095
    for bad in ("video=3", "segment", "segment=-1", "segment=abc"):
        with pytest.raises(RetentionError):
            parse_retention(bad)


async def test_prune_deletes_expired_and_keeps_hashes(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    await upgrade(db)
    root = tmp_path / "recordings"
    sid = await make_session(db)
    made = {}
    async with db.session() as s:
        for i, (artefact, ended) in enumerate([("segment", datetime(2026, 1, 1, tzinfo=UTC)),
                                               ("segment", datetime(2026, 11, 15, tzinfo=UTC)),
                                               ("composite", datetime(2026, 1, 1, tzinfo=UTC))]):
            rel = f"session-{sid}/f{i}.webm"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(f"media {i}".encode())
            r = Recording(session_id=sid, artefact=artefact, kind="video", track_no=i, segment_index=0, path=rel,
                          sha256=hashlib.sha256(f"media {i}".encode()).hexdigest(), bytes=7, status="closed",
                          ended_at=ended)
            s.add(r)
            await s.flush()
            made[i] = (r.id, rel)
    await db.close()
    env = cli_env(CONCORD_DATABASE_URL=db_url, CONCORD_RECORDINGS_DIR=str(root),
                  CONCORD_RETENTION_DAYS="segment=30,composite=forever")
    base = [sys.executable, "-m", "server", "prune", "--data-dir", str(tmp_path / "data"), "--now", "2026-12-01T00:00:00Z"]
    r = subprocess.run(base + ["--dry-run"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "would delete 1 recording" in r.stdout, r.stdout + r.stderr
    assert (root / made[0][1]).exists()
    r = subprocess.run(base, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "deleted 1 recording" in r.stdout, r.stdout + r.stderr
    assert not (root / made[0][1]).exists() and (root / made[1][1]).exists() and (root / made[2][1]).exists()
    bad = subprocess.run(base, env={**env, "CONCORD_RETENTION_DAYS": "nonsense=1"}, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown entry" in bad.stderr

    db = Database(db_url)
    async with db.session() as s:
        row = await s.get(Recording, made[0][0])
        assert row.status == "deleted" and row.sha256 and row.deleted_at is not None
        evs = [e for e in await events(s, ledger.session_chain(sid)) if e.type == "recording_deleted"]
        assert len(evs) == 1 and evs[0].data["sha256"] == row.sha256 and evs[0].data["file_present"] is True
        assert (await verify_chain(s, ledger.session_chain(sid))).ok
    await db.close()
