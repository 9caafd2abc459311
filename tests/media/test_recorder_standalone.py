"""The recorder peer on its own: real aiortc senders → Recorder → WebM segments + rows + ledger."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from server import ledger
from server.db import Database
from server.db.migrate import upgrade
from server.ledger_store import events as ledger_events
from server.ledger_store import verify_chain
from server.media.recorder import Recorder, RemotePeer
from server.recording.store import DbRecordingEvents, list_recordings
from tests.media.helpers import Sender, make_session, probe, sha256, wait_for

pytestmark = [pytest.mark.media, pytest.mark.slow]


@pytest.fixture
async def sqlite_db(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}")
    await upgrade(db)
    yield db
    await db.close()


async def test_two_participants_recorded_without_transcoding(sqlite_db: Database, tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    sid = await make_session(sqlite_db)
    events = DbRecordingEvents(sqlite_db, sid, "test-node")
    answers: asyncio.Queue = asyncio.Queue()

    async def send_signal(to: str, data: dict) -> None:
        await answers.put((to, data))

    recorder = Recorder(sid, root, send_signal, events, max_segment_s=3.0)
    a = Sender(RemotePeer("p-a", "张三", "party"))
    b = Sender(RemotePeer("p-b", "李四", "party"), video=False)
    try:
        await a.offer_to(recorder, answers)
        await b.offer_to(recorder, answers)
        await wait_for(lambda: len(events.closed_segments) >= 1, timeout=30)
        t0 = time.time()
        await asyncio.sleep(6.5)
        recorded_for = time.time() - t0
        await recorder.close()
    finally:
        await a.close()
        await b.close()

    async with sqlite_db.session() as s:
        rows = await list_recordings(s, sid)
        evs = await ledger_events(s, ledger.session_chain(sid))
        assert (await verify_chain(s, ledger.session_chain(sid))).ok
    assert rows and all(r.status == "closed" for r in rows), [(r.path, r.status, r.error) for r in rows]
    by_track: dict[int, list] = {}
    for r in rows:
        by_track.setdefault(r.track_no, []).append(r)
    kinds = sorted((rs[0].peer, rs[0].kind) for rs in by_track.values())
    assert kinds == [("p-a", "audio"), ("p-a", "video"), ("p-b", "audio")]

    ledgered = {e.data["path"]: e.data["sha256"] for e in evs if e.type == "recording_segment"}
    for track_rows in by_track.values():
        total = 0.0
        for r in track_rows:
            path = root / r.path
            info = probe(path)
            assert info["codec"] == ("vp8" if r.kind == "video" else "opus")
            assert info["decoded"] == info["packets"] > 0
            assert info["duration"] <= 3.0 + 1e-3
            if r.kind == "video":
                assert info["first_keyframe"], f"{r.path} does not start on a keyframe"
            assert sha256(path) == r.sha256 == ledgered[r.path]
            total += info["duration"]
        # The track's recorded time: from its first segment to the end of the recording window.
        first = track_rows[0]
        assert total > 0
        manifest = json.loads((path.parent / "manifest.json").read_text())
        assert [s["sha256"] for s in manifest["segments"]] == [r.sha256 for r in track_rows]
        assert manifest["track"]["kind"] == first.kind
    # Each track covered the whole observed window (6.5 s) at least, within 10 %.
    for track_rows in by_track.values():
        span = sum(r.duration_s for r in track_rows)
        assert span >= recorded_for * 0.9, (track_rows[0].kind, span, recorded_for)


async def test_fresh_connection_from_same_participant_is_recorded_anew(sqlite_db: Database, tmp_path: Path) -> None:
    sid = await make_session(sqlite_db)
    events = DbRecordingEvents(sqlite_db, sid, "test-node")
    answers: asyncio.Queue = asyncio.Queue()

    async def send_signal(to: str, data: dict) -> None:
        await answers.put((to, data))

    recorder = Recorder(sid, tmp_path / "rec", send_signal, events, max_segment_s=2.0)
    peer = RemotePeer("p-a", "张三", "party")
    first = Sender(peer, video=False)
    second = Sender(peer, video=False)
    try:
        await first.offer_to(recorder, answers)
        await wait_for(lambda: len(events.closed_segments) >= 1, timeout=30)
        await first.close()  # the browser reconnects with a fresh RTCPeerConnection
        await second.offer_to(recorder, answers)
        await wait_for(lambda: len({t.track_no for t, _ in events.closed_segments}) >= 2, timeout=30)
        await recorder.close()
    finally:
        await first.close()
        await second.close()
    async with sqlite_db.session() as s:
        rows = await list_recordings(s, sid)
    assert {r.track_no for r in rows} == {1, 2} and all(r.status == "closed" for r in rows)


async def test_h264_sender_recorded_as_sent(sqlite_db: Database, tmp_path: Path) -> None:
    """A sender offering only H.264 (as WHIP terminals do) is recorded without transcoding: Matroska
    segments of its H.264, each starting on a keyframe, hashed, listed and ledgered like VP8."""
    root = tmp_path / "recordings"
    sid = await make_session(sqlite_db)
    events = DbRecordingEvents(sqlite_db, sid, "test-node")
    answers: asyncio.Queue = asyncio.Queue()

    async def send_signal(to: str, data: dict) -> None:
        await answers.put((to, data))

    recorder = Recorder(sid, root, send_signal, events, max_segment_s=2.0)
    terminal = Sender(RemotePeer("p-t", "县指挥中心终端", "mediator"), video_codec="video/H264")
    try:
        await terminal.offer_to(recorder, answers)
        answer = terminal.pc.remoteDescription.sdp
        assert "H264/90000" in answer and "VP8/90000" not in answer
        await wait_for(lambda: sum(1 for t, _ in events.closed_segments if t.kind == "video") >= 2, timeout=40)
        await recorder.close()
    finally:
        await terminal.close()

    async with sqlite_db.session() as s:
        rows = await list_recordings(s, sid)
        evs = await ledger_events(s, ledger.session_chain(sid))
        assert (await verify_chain(s, ledger.session_chain(sid))).ok
    video = [r for r in rows if r.kind == "video" and r.status == "closed"]
    assert len(video) >= 2 and {r.codec for r in video} == {"h264"}
    ledgered = {e.data["path"]: e.data["sha256"] for e in evs if e.type == "recording_segment"}
    for r in video:
        info = probe(root / r.path)
        assert r.path.endswith(".mkv") and info["codec"] == "h264" and info["first_keyframe"]
        assert info["decoded"] == info["packets"] > 0 and info["duration"] <= 2.0 + 1e-3
        assert sha256(root / r.path) == r.sha256 == ledgered[r.path]
