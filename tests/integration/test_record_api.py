"""The session record over HTTP: log, JSON Lines export, recordings download, minutes."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from server import ledger
from server.directory.models import Unit
from server.ledger_store import append, events
from server.recording.models import Recording
from server.services import services
from server.sessions.models import Session
from tests.conftest import login


async def _session(client, code: str = "340321001", kind: str = "mediation") -> int:  # type: ignore[no-untyped-def]
    db = services(client.app).db
    async with db.session() as s:
        unit = (await s.execute(select(Unit).where(Unit.code == code))).scalar_one()
        sess = Session(kind=kind, title="宅基地纠纷调解", unit_id=unit.id, state="live", settings={})
        s.add(sess)
        await s.flush()
        await append(s, ledger.session_chain(sess.id), "peer_joined", {"peer": "p1", "name": "张三", "role": "host"})
        await append(s, ledger.session_chain(sess.id), "chat", {"peer": "p1", "text": "你好"})
        return sess.id


async def test_log_matches_contract_and_verifies(client) -> None:  # type: ignore[no-untyped-def]
    sid = await _session(client)
    h = await login(client, "mediator")
    r = await client.get(f"/api/sessions/{sid}/log?verify=1", headers=h)
    assert r.status == 200
    body = await r.json()
    assert [e["seq"] for e in body["events"]] == [1, 2]
    assert set(body["events"][0]) == {"seq", "type", "at", "data", "prev_hash", "hash"}
    assert body["events"][1]["prev_hash"] == body["events"][0]["hash"]
    assert body["verification"] == {"ok": True, "count": 2, "bad_seq": None, "reason": ""}
    r = await client.get(f"/api/sessions/{sid}/log?after=1&limit=5", headers=h)
    assert [e["seq"] for e in (await r.json())["events"]] == [2]


async def test_log_refusals(client) -> None:  # type: ignore[no-untyped-def]
    sid = await _session(client)
    assert (await client.get(f"/api/sessions/{sid}/log")).status == 401
    other = await login(client, "mediator_340322")  # another county: must not even learn it exists
    r = await client.get(f"/api/sessions/{sid}/log", headers=other)
    assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
    h = await login(client, "mediator")
    for bad in ("limit=0", "limit=abc", "after=-1", "limit=99999"):
        r = await client.get(f"/api/sessions/{sid}/log?{bad}", headers=h)
        assert r.status == 400, bad
    assert (await client.get("/api/sessions/999999/log", headers=h)).status == 404
    assert (await client.get("/api/sessions/abc/log", headers=h)).status == 404


async def test_jsonl_export_lines_rehash(client) -> None:  # type: ignore[no-untyped-def]
    sid = await _session(client)
    h = await login(client, "supervisor")  # city tier sees the township's session
    r = await client.get(f"/api/sessions/{sid}/log.jsonl", headers=h)
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in (await r.text()).splitlines()]
    prev = ledger.GENESIS
    for ev in lines:
        body = ledger.canonical(ev["chain"], ev["seq"], ev["type"], ev["at"], ev["data"], ev["v"])
        assert ev["prev_hash"] == prev and ledger.link_hash(prev, body) == ev["hash"]
        prev = ev["hash"]
    assert len(lines) == 2


async def test_recording_download_is_authorised_and_ledgered(client) -> None:  # type: ignore[no-untyped-def]
    sid = await _session(client)
    root = services(client.app).config.recordings_dir
    rel = f"session-{sid}/track-001-video/seg-00000.webm"
    (root / rel).parent.mkdir(parents=True)
    payload = b"\x1a\x45\xdf\xa3" + b"webm" * 1000
    (root / rel).write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    async with services(client.app).db.session() as s:
        rec = Recording(session_id=sid, artefact="segment", peer="p1", peer_name="张三", kind="video",
                        track_no=1, segment_index=0, path=rel, sha256=digest, bytes=len(payload),
                        duration_s=9.9, status="closed")
        s.add(rec)
        await s.flush()
        rid = rec.id
    h = await login(client, "mediator")
    r = await client.get(f"/api/sessions/{sid}/recordings", headers=h)
    listed = (await r.json())["recordings"]
    assert listed[0]["id"] == rid and listed[0]["sha256"] == digest and listed[0]["peer"] == "p1"
    assert {"id", "peer", "kind", "path", "sha256", "bytes", "duration_s"} <= set(listed[0])

    r = await client.get(f"/api/sessions/{sid}/recordings/{rid}/file", headers=h)
    assert r.status == 200 and await r.read() == payload
    assert r.headers["Content-Type"] == "video/webm"
    r = await client.get(f"/api/sessions/{sid}/recordings/{rid}/file", headers={**h, "Range": "bytes=100-"})
    assert r.status == 206
    for who in ("observer", "expert"):
        r = await client.get(f"/api/sessions/{sid}/recordings/{rid}/file", headers=await login(client, who))
        assert r.status in (403, 404), who
    r = await client.get(f"/api/sessions/{sid}/recordings/{rid}/file",
                         headers=await login(client, "mediator_340322"))
    assert r.status == 404
    assert (await client.get(f"/api/sessions/{sid}/recordings/{rid + 99}/file", headers=h)).status == 404
    async with services(client.app).db.session() as s:
        evs = await events(s, ledger.session_chain(sid))
    downloads = [e for e in evs if e.type == "recording_downloaded"]
    assert len(downloads) == 1 and downloads[0].data["sha256"] == digest and downloads[0].data["by_name"]

    async with services(client.app).db.session() as s:
        (await s.get(Recording, rid)).status = "deleted"
    r = await client.get(f"/api/sessions/{sid}/recordings/{rid}/file", headers=h)
    assert r.status == 410 and (await r.json())["error"]["sha256"] == digest


async def test_h264_segment_downloads_as_matroska(client) -> None:  # type: ignore[no-untyped-def]
    """A WHIP terminal's H.264 is kept in Matroska segments (.mkv): served as such, hash in the header."""
    sid = await _session(client)
    root = services(client.app).config.recordings_dir
    rel = f"session-{sid}/track-002-video/seg-00000.mkv"
    (root / rel).parent.mkdir(parents=True)
    payload = b"\x1a\x45\xdf\xa3" + b"mkv!" * 1000
    (root / rel).write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    async with services(client.app).db.session() as s:
        rec = Recording(session_id=sid, artefact="segment", peer="p2", peer_name="县指挥中心终端", kind="video",
                        codec="h264", track_no=2, segment_index=0, path=rel, sha256=digest, bytes=len(payload),
                        duration_s=9.9, status="closed")
        s.add(rec)
        await s.flush()
        rid = rec.id
    r = await client.get(f"/api/sessions/{sid}/recordings/{rid}/file", headers=await login(client, "mediator"))
    assert r.status == 200 and await r.read() == payload
    assert r.headers["Content-Type"] == "video/x-matroska" and r.headers["X-Content-SHA256"] == digest


async def test_minutes_versioned_and_ledgered(client) -> None:  # type: ignore[no-untyped-def]
    sid = await _session(client)
    h = await login(client, "mediator")
    r = await client.get(f"/api/sessions/{sid}/minutes", headers=h)
    assert (await r.json())["version"] == 0
    r = await client.put(f"/api/sessions/{sid}/minutes", headers=h, json={"text": "双方到场。", "base_version": 0})
    assert r.status == 200 and (await r.json())["version"] == 1
    r = await client.put(f"/api/sessions/{sid}/minutes", headers=h,
                         json={"text": "双方到场。\n申请人陈述。", "base_version": 1})
    v2 = await r.json()
    assert v2["version"] == 2 and v2["sha256"] == hashlib.sha256("双方到场。\n申请人陈述。".encode()).hexdigest()
    r = await client.put(f"/api/sessions/{sid}/minutes", headers=h, json={"text": "旧稿", "base_version": 1})
    assert r.status == 409 and (await r.json())["error"]["current_version"] == 2
    for bad in ({"text": 5, "base_version": 2}, {"text": "x"}, {"text": "x", "base_version": "2"}):
        assert (await client.put(f"/api/sessions/{sid}/minutes", headers=h, json=bad)).status == 400
    r = await client.put(f"/api/sessions/{sid}/minutes", headers=h, json={"text": "x" * 100_001, "base_version": 2})
    assert r.status in (400, 413)
    r = await client.put(f"/api/sessions/{sid}/minutes", headers=await login(client, "expert"),
                         json={"text": "专家改写", "base_version": 2})
    assert r.status in (403, 404)
    r = await client.get(f"/api/sessions/{sid}/minutes?version=1", headers=h)
    assert (await r.json())["text"] == "双方到场。"
    r = await client.get(f"/api/sessions/{sid}/minutes/versions", headers=h)
    assert [v["version"] for v in (await r.json())["versions"]] == [1, 2]
    async with services(client.app).db.session() as s:
        evs = [e for e in await events(s, ledger.session_chain(sid)) if e.type == "minutes_saved"]
    assert [e.data["version"] for e in evs] == [1, 2] and evs[1].data["sha256"] == v2["sha256"]
