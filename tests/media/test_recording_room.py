"""Recording through the real server: real aiortc participants, the real /ws signaling, the real recorder.

The host switches recording on; the recorder joins the room as a peer with role ``recorder``; 张三
consents and offers to it, 李四 declines. Checked with PyAV: codecs, duration within 10 % of the time
recorded, each segment's SHA-256 against the ledger; 李四 leaves no file; refusals for a party's
recording switch and for consent from a peer still in the lobby; the playback file is composed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from server import ledger
from server.ledger_store import events, verify_chain
from server.recording.store import list_recordings
from server.services import services
from tests.media.helpers import probe, sha256, wait_for
from tests.media.synthetic import SyntheticAudio, SyntheticVideo
from tests.support.rooms import invite, join, make_session, staff_token

pytestmark = [pytest.mark.media, pytest.mark.slow]


async def _admit(client, host, h, sid, name):  # type: ignore[no-untyped-def]
    inv = await invite(client, h, sid, name)
    p = await join(client, inv["token"], expect="lobby")
    knock = await host.expect("knock", where=lambda m: m["peer"]["name"] == name)
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    p.welcome = await p.expect("welcome")
    p.peer_id = p.welcome["peer_id"]
    return p


async def test_consenting_party_recorded_declining_party_not(client) -> None:  # type: ignore[no-untyped-def]
    app = client.app
    services(app).recording.max_segment_s = 3.0
    root: Path = services(app).config.recordings_dir
    sid, h = await make_session(client, "mediator")
    host = await join(client, await staff_token(client, h, sid))
    zhang = await _admit(client, host, h, sid, "张三")
    li = await _admit(client, host, h, sid, "李四")
    waiting_inv = await invite(client, h, sid, "王五")
    waiting = await join(client, waiting_inv["token"], expect="lobby")

    # A party may not switch recording; a peer in the lobby may not consent.
    await zhang.send({"type": "recording", "on": True})
    assert (await zhang.expect("error"))["code"] == "forbidden"
    await waiting.send({"type": "consent", "recording": True})
    assert (await waiting.expect("error"))["code"] in ("forbidden", "not_admitted", "lobby")

    await host.send({"type": "recording", "on": True})
    rec_peer = (await zhang.expect("peer-joined", timeout=15, where=lambda m: m["peer"]["role"] == "recorder"))["peer"]
    assert rec_peer["system"] is True
    await zhang.send({"type": "consent", "recording": True})
    await li.send({"type": "consent", "recording": False})
    await host.expect("peer-updated", where=lambda m: m["peer"]["id"] == li.peer_id and m["peer"]["consent"] is False)

    # 李四 declined: the room does not let him signal the recorder.
    await li.send({"type": "signal", "to": rec_peer["id"], "data": {"description": {"type": "offer", "sdp": "v=0"}}})
    assert (await li.expect("error"))["code"] in ("no_consent", "not_recorded", "forbidden")

    pc = RTCPeerConnection()
    video, audio = SyntheticVideo(320, 180, 15), SyntheticAudio()
    pc.addTrack(video)
    pc.addTrack(audio)
    try:
        await pc.setLocalDescription(await pc.createOffer())
        await zhang.send({"type": "signal", "to": rec_peer["id"],
                          "data": {"description": {"type": "offer", "sdp": pc.localDescription.sdp}}})
        answer = await zhang.expect("signal", timeout=15, where=lambda m: m["from"] == rec_peer["id"])
        await pc.setRemoteDescription(RTCSessionDescription(**answer["data"]["description"]))

        async def segments() -> list:
            async with services(app).db.session() as s:
                return [r for r in await list_recordings(s, sid) if r.status == "closed"]

        seen: list = []

        async def poll() -> bool:
            seen[:] = await segments()
            return len(seen) >= 2

        deadline = time.time() + 40
        while not await poll():
            assert time.time() < deadline, "no segments recorded"
            await asyncio.sleep(0.2)
        await asyncio.sleep(5.0)
        await host.send({"type": "recording", "on": False})
        await wait_for(lambda: sid not in services(app).recording.active, timeout=30)
    finally:
        await pc.close()

    async with services(app).db.session() as s:
        rows = await list_recordings(s, sid)
        evs = await events(s, ledger.session_chain(sid))
        assert (await verify_chain(s, ledger.session_chain(sid))).ok
    segs = [r for r in rows if r.artefact == "segment"]
    assert segs and {r.peer for r in segs} == {zhang.peer_id}
    assert {r.kind for r in segs} == {"audio", "video"}
    assert all(r.status == "closed" for r in segs), [(r.path, r.status, r.error) for r in segs]
    # 李四 left no file anywhere.
    assert li.peer_id not in "".join(str(p) for p in root.rglob("*"))
    assert not any(e.data.get("peer") == li.peer_id for e in evs if e.type.startswith("recording_"))

    ledgered = {e.data["path"]: e.data["sha256"] for e in evs if e.type == "recording_segment"}
    on = next(e.at for e in evs if e.type == "recording_track")
    off = next(e.at for e in evs if e.type == "recording_off")
    recorded_s = (off - on).total_seconds()
    for kind in ("audio", "video"):
        total = 0.0
        for r in [x for x in segs if x.kind == kind]:
            info = probe(root / r.path)
            assert info["codec"] == ("vp8" if kind == "video" else "opus")
            assert info["decoded"] == info["packets"] > 0 and info["duration"] <= 3.0 + 1e-3
            assert sha256(root / r.path) == r.sha256 == ledgered[r.path]
            total += info["duration"]
        assert abs(total - recorded_s) <= 0.1 * recorded_s, (kind, total, recorded_s)

    types = [e.type for e in evs]
    for t in ("recording_on", "consent", "recording_track", "recording_segment", "recording_off"):
        assert t in types, t

    # After recording: per-track files and the composite are made by the job queue.
    async def job_done() -> bool:
        job = await services(app).playback.latest_job(sid)
        return job is not None and job.status in ("done", "failed")

    deadline = time.time() + 120
    while not await job_done():
        assert time.time() < deadline, "playback job did not finish"
        await asyncio.sleep(0.5)
    job = await services(app).playback.latest_job(sid)
    assert job.status == "done", job.error
    async with services(app).db.session() as s:
        rows = await list_recordings(s, sid)
    composite = next(r for r in rows if r.artefact == "composite")
    info = probe(root / composite.path)
    assert info["codec"] == "vp8" and info["decoded"] > 0
    assert sha256(root / composite.path) == composite.sha256


async def test_party_reads_minutes_with_join_token_while_admitted(client) -> None:  # type: ignore[no-untyped-def]
    sid, h = await make_session(client, "mediator")
    host = await join(client, await staff_token(client, h, sid))
    r = await client.put(f"/api/sessions/{sid}/minutes", headers=h, json={"text": "双方到场。", "base_version": 0})
    assert r.status == 200
    inv = await invite(client, h, sid, "张三")
    # Before admission the token alone is not enough.
    lobby = await join(client, inv["token"], expect="lobby")
    r = await client.get(f"/api/sessions/{sid}/minutes", headers={"X-Join-Token": inv["token"]})
    assert r.status == 403
    knock = await host.expect("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    await lobby.expect("welcome")
    r = await client.get(f"/api/sessions/{sid}/minutes", headers={"X-Join-Token": inv["token"]})
    assert r.status == 200 and (await r.json())["text"] == "双方到场。"
    # A party cannot write, and a forged token is refused.
    r = await client.put(f"/api/sessions/{sid}/minutes", headers={"X-Join-Token": inv["token"]},
                         json={"text": "改", "base_version": 1})
    assert r.status == 401
    r = await client.get(f"/api/sessions/{sid}/minutes", headers={"X-Join-Token": inv["token"][:-3] + "abc"})
    assert r.status == 401
    other, _ = await make_session(client, "mediator")
    r = await client.get(f"/api/sessions/{other}/minutes", headers={"X-Join-Token": inv["token"]})
    assert r.status == 403


async def test_unwritable_recordings_dir_alerts_host_and_session_continues(client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = client.app
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    services(app).recording.root = blocker / "recordings"  # mkdir fails: ENOTDIR, as for a dead mount
    sid, h = await make_session(client, "mediator")
    host = await join(client, await staff_token(client, h, sid))
    zhang = await _admit(client, host, h, sid, "张三")
    await host.send({"type": "recording", "on": True})
    rec_peer = (await zhang.expect("peer-joined", timeout=15, where=lambda m: m["peer"]["role"] == "recorder"))["peer"]
    await zhang.send({"type": "consent", "recording": True})
    pc = RTCPeerConnection()
    pc.addTrack(SyntheticVideo(160, 96, 15))
    pc.addTrack(SyntheticAudio())
    try:
        await pc.setLocalDescription(await pc.createOffer())
        await zhang.send({"type": "signal", "to": rec_peer["id"],
                          "data": {"description": {"type": "offer", "sdp": pc.localDescription.sdp}}})
        answer = await zhang.expect("signal", timeout=15, where=lambda m: m["from"] == rec_peer["id"])
        await pc.setRemoteDescription(RTCSessionDescription(**answer["data"]["description"]))
        alert = await host.expect("error", timeout=30, where=lambda m: m["code"] == "recording_failed")
        assert "录制失败" in alert["message"] and "recording failed" in alert["message"]
        assert not [m for m in zhang.inbox if m.get("code") == "recording_failed"]  # for moderators only
        # The session carries on: people still talk.
        await zhang.send({"type": "chat", "text": "还能听到吗？"})
        assert (await host.expect("chat", where=lambda m: m["from"] == zhang.peer_id))["text"] == "还能听到吗？"
        await host.send({"type": "ping"})
        await host.expect("pong")
    finally:
        await pc.close()
    await host.send({"type": "recording", "on": False})
    await wait_for(lambda: sid not in services(app).recording.active, timeout=30)
    async with services(app).db.session() as s:
        evs = await events(s, ledger.session_chain(sid))
        rows = await list_recordings(s, sid)
    errors = [e for e in evs if e.type == "recording_error"]
    assert errors and "Not a directory" in errors[0].data["error"]
    assert rows and all(r.status == "failed" for r in rows)


async def _offer(pc: RTCPeerConnection, peer, rec_id: str) -> None:  # type: ignore[no-untyped-def]
    await pc.setLocalDescription(await pc.createOffer())
    await peer.send({"type": "signal", "to": rec_id, "data": {"description": {"type": "offer",
                                                                              "sdp": pc.localDescription.sdp}}})
    answer = await peer.expect("signal", timeout=15, where=lambda m: m["from"] == rec_id)
    await pc.setRemoteDescription(RTCSessionDescription(**answer["data"]["description"]))


async def test_private_subroom_not_recorded_unless_host_includes_it(client) -> None:  # type: ignore[no-untyped-def]
    app = client.app
    services(app).recording.max_segment_s = 2.0
    sid, h = await make_session(client, "mediator")
    host = await join(client, await staff_token(client, h, sid))
    zhang = await _admit(client, host, h, sid, "张三")
    await host.send({"type": "recording", "on": True})
    rec_id = (await zhang.expect("peer-joined", timeout=15, where=lambda m: m["peer"]["role"] == "recorder"))["peer"]["id"]
    await zhang.send({"type": "consent", "recording": True})
    pcs = [RTCPeerConnection()]
    pcs[0].addTrack(SyntheticAudio())

    async def tracks_started() -> list:
        async with services(app).db.session() as s:
            return [e for e in await events(s, ledger.session_chain(sid)) if e.type == "recording_track"]

    async def wait_tracks(n: int) -> list:
        deadline = time.time() + 30
        while len(found := await tracks_started()) < n:
            assert time.time() < deadline, f"expected {n} recorded tracks"
            await asyncio.sleep(0.2)
        return found

    async def wait_ended(n: int) -> None:
        deadline = time.time() + 30
        while True:
            async with services(app).db.session() as s:
                ended = [e for e in await events(s, ledger.session_chain(sid)) if e.type == "recording_track_ended"]
            if len(ended) >= n:
                return
            assert time.time() < deadline, "the recorder kept recording a private sub-room"
            await asyncio.sleep(0.2)

    try:
        await _offer(pcs[0], zhang, rec_id)
        await wait_tracks(1)
        # Shuttle mediation: moved into a private sub-room, 张三 is no longer recorded.
        await host.send({"type": "move", "peer": zhang.peer_id, "subroom": "背靠背A"})
        await zhang.expect("moved")
        await wait_ended(1)
        await zhang.send({"type": "signal", "to": rec_id, "data": {"description": {"type": "offer", "sdp": "v=0"}}})
        assert (await zhang.expect("error"))["code"] in ("not_recorded", "other_subroom", "forbidden", "no_consent")
        # The host explicitly includes the sub-room: that decision is ledgered, and 张三 is recorded again.
        await host.send({"type": "recording", "on": True, "subrooms": ["背靠背A"]})
        await zhang.expect("room", where=lambda m: m["room"]["recording_subrooms"] == ["背靠背A"])
        pcs.append(RTCPeerConnection())
        pcs[1].addTrack(SyntheticAudio())
        await _offer(pcs[1], zhang, rec_id)
        await wait_tracks(2)
    finally:
        for pc in pcs:
            await pc.close()
    await host.send({"type": "recording", "on": False})
    await wait_for(lambda: sid not in services(app).recording.active, timeout=30)
    async with services(app).db.session() as s:
        evs = await events(s, ledger.session_chain(sid))
    decisions = [e.data.get("subrooms") for e in evs if e.type == "recording_on"]
    assert decisions == [[], ["背靠背A"]]
