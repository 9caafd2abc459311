"""SIGKILL in the middle of a recording, then a restart of the real server.

Closed segments must be intact and verifiable, the half-written ones salvaged (or discarded) and listed
honestly, the session marked interrupted, and the ledger must verify.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server import ledger
from server.db import Database
from server.db.migrate import upgrade
from server.ledger_store import events, verify_chain
from server.recording.store import list_recordings
from server.sessions.models import Session
from tests.conftest import cli_env
from tests.media.helpers import make_session, probe, sha256

pytestmark = [pytest.mark.media, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_until(proc: subprocess.Popen, want: str, count: int, timeout: float) -> list[str]:
    import queue
    import threading

    lines: queue.Queue = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    got: list[str] = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if proc.poll() is not None:
                raise AssertionError(f"process exited early ({proc.returncode})") from None
            continue
        if line.startswith(want):
            got.append(line)
            if len(got) >= count:
                return got
    raise AssertionError(f"only {len(got)} {want!r} lines in {timeout}s")


async def test_sigkill_mid_recording_then_restart(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    await upgrade(db)
    sid = await make_session(db, "宅基地纠纷（崩溃测试）")
    await db.close()
    root = tmp_path / "recordings"
    env = cli_env(CONCORD_NODE_ID="crash-node", CONCORD_DATABASE_URL=db_url, CONCORD_RECORDINGS_DIR=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "tests.media.record_harness", db_url, str(root), str(sid), "2.0"],
                            env=env, stdout=subprocess.PIPE, text=True)
    try:
        _read_until(proc, "SEGMENT", 3, timeout=60)
        time.sleep(1.3)  # well inside the next segments, past their first clusters
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    db = Database(db_url)
    async with db.session() as s:
        before = {r.path: r.status for r in await list_recordings(s, sid)}
    await db.close()
    assert "writing" in before.values(), before  # the kill really landed mid-segment
    closed_before = {p for p, st in before.items() if st == "closed"}

    # Restart the real server on the same data: recovery runs at start-up.
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir",
                               str(tmp_path / "data")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        import urllib.request

        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise
                await asyncio.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=20)

    db = Database(db_url)
    async with db.session() as s:
        rows = await list_recordings(s, sid)
        sess = await s.get(Session, sid)
        evs = await events(s, ledger.session_chain(sid))
        v = await verify_chain(s, ledger.session_chain(sid))
    await db.close()
    assert v.ok, str(v)
    assert sess.state == "interrupted"
    types = [e.type for e in evs]
    assert "recording_interrupted" in types and "session_interrupted" in types
    statuses = {r.path: r.status for r in rows}
    assert "writing" not in statuses.values(), statuses
    assert "recovered" in statuses.values(), statuses  # the salvage really had something to do
    assert {p for p, st in statuses.items() if st == "closed"} == closed_before
    ledgered = {e.data["path"]: e.data["sha256"] for e in evs if e.type in ("recording_segment", "segment_recovered")}
    for r in rows:
        path = root / r.path
        if r.status in ("closed", "recovered"):
            assert sha256(path) == r.sha256 == ledgered[r.path], r.path
            info = probe(path)
            assert info["decoded"] == info["packets"] > 0
            if r.kind == "video":
                assert info["first_keyframe"]
        else:
            assert r.status == "discarded" and not path.exists() and r.error
            assert any(e.type == "segment_discarded" and e.data["path"] == r.path for e in evs)
    # The manifests tell the same story.
    for mf in root.glob(f"session-{sid}/*/manifest.json"):
        m = json.loads(mf.read_text())
        for seg in m["segments"]:
            assert seg["status"] != "writing"
            assert seg["status"] == statuses[seg["path"]]
    # concord verify-recordings agrees.
    out = subprocess.run([sys.executable, "-m", "server", "verify-recordings", "--session", str(sid),
                          "--data-dir", str(tmp_path / "data")], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1].startswith("OK"), out.stdout + out.stderr
