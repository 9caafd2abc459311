"""The world the access matrix runs in: the demo network (fictional people), a normal case and a
domestic-violence case at 龙亢镇 (340321001, under 怀远县 under 蚌埠市), each with a session, minutes, a
recording segment, an effective agreement, an evidence document and party invitations; plus the actors.

Built once per database through the real API (and the recording store's own writer), so what the matrix
reads is what production writes.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from server import ledger
from server.auth import issue_session_cookie
from server.cases.models import Case, CaseAccess, Consultation
from server.directory.demo import DEMO_PASSWORD
from server.directory.models import Staff
from server.directory.queries import add_staff, unit_by_code
from server.directory.tiers import Role
from server.media.segments import SegmentInfo, TrackInfo
from server.recording.store import DbRecordingEvents
from server.security import csrf
from server.services import services
from tests.integration.access import council_world
from tests.integration.agreements.helpers import data_url
from tests.support.agreement_sample import SAMPLE_IDS, sample_content

# The DV case's confidential values: unique strings found nowhere else, so any hit is a leak.
MARK_ADDR = "MARKER-ADDR-7f3a"
MARK_PHONE = "13800007319"
CONFIDENTIAL = (MARK_ADDR, MARK_PHONE)
# The DV case's other content: outsiders of the case must never see it either.
MARK_TITLE = "MARKER-TITLE-c41d"
MARK_MINUTES = "MARKER-MINUTES-9b2e"
MARK_DOC = b"MARKER-DOC-55e0"
MARK_TURNED = "MARKER-TURNED-3a8c"  # a case named on the notice board, later made a DV case
RESTRICTED_CONTENT = (MARK_TITLE, MARK_MINUTES, MARK_DOC.decode(), MARK_TURNED)

TOWNSHIP = "340321001"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4a80000000049454e44ae426082")

# Actor names, as the table in test_access_matrix.py uses them.
NAMED = "named"          # the DV case's one named mediator (and the normal case's owner)
PEER = "peer"            # an unnamed mediator of the same township
COUNTY = "county"        # the county's mediator, above
CITY = "city"            # the city's mediator (督办), above
ADMIN = "admin"          # the city administrator
EXPERT = "expert"        # an expert with a live grant on the case
EXPIRED = "expired"      # an expert whose grant has expired
OTHER = "other"          # a mediator of another county
PARTY_A = "party_a"      # the first party's invitation (identity checked)
PARTY_B = "party_b"      # the second party's invitation (identity checked)
GONE = "logged_out"      # a named mediator's token after sign-out
ANON = "anonymous"
ACTORS = (NAMED, PEER, COUNTY, CITY, ADMIN, EXPERT, EXPIRED, OTHER, PARTY_A, PARTY_B, GONE, ANON)
STAFF_USERNAMES = {NAMED: "mediator", PEER: "mediator_340321001", COUNTY: "mediator_340321", CITY: "supervisor",
                   ADMIN: "admin", EXPERT: "expert", EXPIRED: "expert_340321", OTHER: "mediator_340322",
                   GONE: "mediator_gone"}


@dataclass
class Party:
    name: str
    invitation: str = ""        # the session invitation token (the party's link)
    invitation_id: int = 0
    code: str = ""              # its one-time identity code
    agreement_link: str = ""    # the agreement signing link's token
    ticket: str = ""            # an identity-check ticket on the agreement


@dataclass
class CaseWorld:
    kind: str                   # "normal" | "dv"
    code: str = ""
    id: int = 0
    sid: int = 0                # the mediation session
    csid: int = 0               # the expired expert's consultation session
    rid: int = 0                # a recording segment of the mediation session
    aid: int = 0                # the effective agreement
    doc_id: int = 0
    doc_url: str = ""
    party_id: int = 0           # the first party's id on the case (the printed copy page)
    consultation_live: int = 0
    consultation_expired: int = 0
    order_id: int = 0           # a supervision order (normal case only: nobody above is named on the DV case)
    spare_inv: dict[str, int] = field(default_factory=dict)  # "mediation"/"consultation" -> an invitation to revoke
    parties: list[Party] = field(default_factory=list)


@dataclass
class Credentials:
    bearer: dict[str, str] = field(default_factory=dict)   # for /api
    cookie: dict[str, str] = field(default_factory=dict)   # for pages (with its CSRF header)
    join_tokens: dict[str, str] = field(default_factory=dict)  # minted before sign-out / expiry: sid -> token


@dataclass
class World:
    client: TestClient
    cases: dict[str, CaseWorld]
    creds: dict[str, Credentials]
    staff_ids: dict[str, int]
    turned_code: str = ""
    notice_id: int = 0
    # A residents' council at the township and its records: council, topic, meeting, item, vote, task, photo,
    # member (present at the meeting), spare_member (to remove).
    council: dict[str, int] = field(default_factory=dict)
    # The council pages' path values (council_world.py: a second council, its meeting in session, a passed vote).
    council_pages: dict[str, str] = field(default_factory=dict)


async def _ok(r: aiohttp.ClientResponse, *statuses: int) -> Any:
    if r.status not in (statuses or (200, 201)):
        raise AssertionError(f"{r.method} {r.url.path}: {r.status} {await r.text()}")
    return await r.json() if r.content_type == "application/json" else await r.read()


async def _login(c: TestClient, username: str) -> dict[str, str]:
    body = await _ok(await c.post("/api/auth/login", json={"username": username, "password": DEMO_PASSWORD}))
    return {"Authorization": f"Bearer {body['token']}"}


def _cookie(secret: bytes, staff_id: int) -> dict[str, str]:
    """What a browser signed in as this staff member sends: its session cookie, and its CSRF pair."""
    seed = csrf.new_seed()
    session = issue_session_cookie(secret, staff_id, "matrix")
    return {"Cookie": f"concord_session={session}; {csrf.CSRF_COOKIE}={seed}",
            csrf.CSRF_HEADER: csrf.token_for(secret, seed)}


async def _case(c: TestClient, h: dict[str, str], dv: bool) -> dict:
    if dv:
        body = {"title": f"家庭暴力求助 {MARK_TITLE}", "summary": "申请人称多次遭受家庭暴力", "category": "policing",
                "item": "domestic_violence",
                "parties": [{"role": "victim", "name": "王五", "phone": MARK_PHONE, "address": MARK_ADDR,
                             "id_number": SAMPLE_IDS[2]},
                            {"role": "perpetrator", "name": "赵六", "phone": "13600004444",
                             "address": "示例村4组", "id_number": SAMPLE_IDS[3]}]}
    else:
        body = {"title": "张三与李四工资纠纷", "summary": "拖欠工资", "category": "disputes", "item": "land_boundary",
                "parties": [{"role": "applicant", "name": "张三", "phone": "13800001111", "address": "新华村1组",
                             "id_number": SAMPLE_IDS[0]},
                            {"role": "respondent", "name": "李四", "phone": "13900002222", "address": "新华村2组",
                             "id_number": SAMPLE_IDS[1]}]}
    body |= {"unit": TOWNSHIP, "source": "walk_in"}
    return await _ok(await c.post("/api/cases", json=body, headers=h))


def _silent_opus_webm(frames: int = 10) -> bytes:
    """A real, tiny segment (0.2 s of silent Opus in WebM), so playback can compose it."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="webm") as out:
        stream = out.add_stream("libopus", rate=48000)
        stream.layout = "mono"  # type: ignore[union-attr]
        for i in range(frames):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), dtype=np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, i * 960
            for packet in stream.encode(frame):  # type: ignore[union-attr]
                out.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            out.mux(packet)
    return buf.getvalue()


async def _recording(c: TestClient, sid: int) -> int:
    """One closed segment written the way the recorder writes it: a file, then the store's own events."""
    app = c.server.app
    root: Path = services(app).config.recordings_dir
    rel = f"session-{sid}/track-001-audio/seg-00000.webm"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    payload = _silent_opus_webm()
    (root / rel).write_bytes(payload)
    track = TrackInfo(session_id=sid, peer="p1", peer_name="调解员张三", role="host", kind="audio", codec="opus",
                      track_id="t-audio", track_no=1)
    now = datetime.now(UTC)
    seg = SegmentInfo(index=0, path=rel, start_offset_s=0.0, started_at=now.isoformat())
    events = DbRecordingEvents(services(app).db, sid, "matrix")
    await events.track_started(track)
    await events.segment_opened(track, seg)
    seg.ended_at, seg.duration_s, seg.frames = (now + timedelta(seconds=0.2)).isoformat(), 0.2, 10
    seg.bytes, seg.sha256, seg.status = len(payload), hashlib.sha256(payload).hexdigest(), "closed"
    await events.segment_closed(track, seg)
    from server.recording.models import Recording

    async with services(app).db.session() as s:
        return (await s.execute(select(Recording.id).where(Recording.session_id == sid))).scalar_one()


async def _party_sign(c: TestClient, aid: int, p: Party) -> None:
    t = await _ok(await c.post(f"/api/agreements/{aid}/party/check", json={"invitation": p.invitation,
                                                                          "answer": p.code}))
    p.ticket = t["ticket"]
    text = await _ok(await c.post(f"/api/agreements/{aid}/party/text",
                                  json={"invitation": p.invitation, "ticket": p.ticket}))
    await _ok(await c.post(f"/api/agreements/{aid}/party/sign", json={
        "invitation": p.invitation, "ticket": p.ticket, "read_token": text["read_token"],
        "version": text["version"], "document_hash": text["document_hash"], "consent": True,
        "typed_name": p.name, "image": data_url(3)}))
    # A fresh ticket for the matrix to present (the one above may be single use).
    t = await _ok(await c.post(f"/api/agreements/{aid}/party/check", json={"invitation": p.invitation,
                                                                          "answer": p.code}))
    p.ticket = t["ticket"]


async def _agreement(c: TestClient, h: dict[str, str], cw: CaseWorld) -> int:
    sample = sample_content().to_dict()
    body = {"case_code": cw.code, "session_id": cw.sid, "dispute_type": "labour_wages",
            "content": {"obligations": sample["obligations"], "facts": sample["facts"], "issues": sample["issues"],
                        "judicial_confirmation": True}}
    a = await _ok(await c.post("/api/agreements", json=body, headers=h))
    aid = a["id"]
    a = await _ok(await c.post(f"/api/agreements/{aid}/freeze", json={"version": a["version"]}, headers=h))
    for p in cw.parties:
        await _party_sign(c, aid, p)
    me = await _ok(await c.get("/api/auth/me", headers=h))
    a = await _ok(await c.get(f"/api/agreements/{aid}", headers=h))
    sign = {"version": a["version"], "document_hash": a["document_hash"], "consent": True,
            "password": DEMO_PASSWORD, "typed_name": me["name"], "image": data_url(7)}
    await _ok(await c.post(f"/api/agreements/{aid}/sign/mediator", json=sign, headers=h))
    done = await _ok(await c.post(f"/api/agreements/{aid}/seal", json={**sign, "image": None}, headers=h))
    assert done["state"] == "effective", done
    return aid


async def _consult(c: TestClient, h: dict[str, str], code: str, expert: dict[str, str], username: str,
                   specialty: str) -> tuple[int, int]:
    made = await _ok(await c.post(f"/api/cases/{code}/consultations", headers=h, json={
        "specialty": specialty, "question": "请就本案给出专业意见", "expert": username, "grant_hours": 24}))
    got = await _ok(await c.post(f"/api/consultations/{made['id']}/accept", json={}, headers=expert))
    return made["id"], got["session_id"]


async def build(c: TestClient) -> World:
    app = c.server.app
    secret: bytes = services(app).config.secret_key
    async with services(app).db.session() as s:
        township = await unit_by_code(s, TOWNSHIP)
        assert township is not None
        await add_staff(s, STAFF_USERNAMES[GONE], "调解员离职甲", DEMO_PASSWORD, Role.MEDIATOR, township)
    async with services(app).db.session() as s:
        ids = dict((await s.execute(select(Staff.username, Staff.id))).all())
    staff_ids = {a: ids[u] for a, u in STAFF_USERNAMES.items()}
    creds: dict[str, Credentials] = {a: Credentials() for a in ACTORS}
    for actor, username in STAFF_USERNAMES.items():
        creds[actor].bearer = await _login(c, username)
        creds[actor].cookie = _cookie(secret, staff_ids[actor])
    for actor in (PARTY_A, PARTY_B, ANON):  # a browser that has loaded a page holds a CSRF pair, no session
        seed = csrf.new_seed()
        creds[actor].cookie = {"Cookie": f"{csrf.CSRF_COOKIE}={seed}", csrf.CSRF_HEADER: csrf.token_for(secret, seed)}
    h = creds[NAMED].bearer

    world = World(c, {}, creds, staff_ids)
    # The first case codes of the year are the ones examples and placeholders show (openapi, forms): use
    # them up on ordinary cases, so the codes the scan looks for appear nowhere by coincidence.
    for _ in range(5):
        await _case(c, h, dv=False)
    # A case named on the notice board while it was an ordinary dispute, then triaged as DV.
    turned = await _case(c, h, dv=False)
    await _ok(await c.patch(f"/api/cases/{turned['code']}", headers=h,
                            json={"title": f"邻里纠纷 {MARK_TURNED}", "version": turned["version"]}), 200)
    notice = await _ok(await c.post("/api/notices", headers=h, json={
        "kind": "bulletin", "title": "通报：调解及时", "body": "该案调解及时，予以通报表扬",
        "case": turned["code"]}), 201)
    world.notice_id, world.turned_code = notice["id"], turned["code"]
    await _ok(await c.post(f"/api/cases/{turned['code']}/transitions", headers=h, json={
        "action": "triage", "category": "policing", "item": "domestic_violence", "grade": "red"}))

    for kind in ("normal", "dv"):
        case = await _case(c, h, dv=kind == "dv")
        cw = CaseWorld(kind, case["code"], case["id"])
        cw.party_id = case["parties"][0]["id"]
        if kind == "dv":
            # The one named mediator, and the staff member who will sign out.
            await _ok(await c.post(f"/api/cases/{cw.code}/named-staff", headers=h,
                                   json={"add": [STAFF_USERNAMES[GONE]]}))
        # An expert with a live grant, and one whose grant will have expired.
        cw.consultation_live, _ = await _consult(c, h, cw.code, creds[EXPERT].bearer, STAFF_USERNAMES[EXPERT], "land")
        cw.consultation_expired, cw.csid = await _consult(c, h, cw.code, creds[EXPIRED].bearer,
                                                          STAFF_USERNAMES[EXPIRED], "medical")
        when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        sess = await _ok(await c.post("/api/sessions", headers=h, json={
            "kind": "mediation", "title": f"{cw.code} 调解", "unit": TOWNSHIP, "case_id": cw.id, "scheduled_at": when}))
        cw.sid = sess["id"]
        for p in case["parties"]:
            inv = await _ok(await c.post(f"/api/sessions/{cw.sid}/invitations", headers=h, json={
                "role": "party", "name": p["name"], "check": {"method": "code"}}))
            cw.parties.append(Party(p["name"], inv["token"], inv["id"], inv["code"]))
        minutes = f"双方到场。{MARK_MINUTES if kind == 'dv' else '调解顺利'}"
        await _ok(await c.put(f"/api/sessions/{cw.sid}/minutes", headers=h, json={"text": minutes, "base_version": 0}))
        for session, sid, host in (("mediation", cw.sid, h), ("consultation", cw.csid, creds[EXPIRED].bearer)):
            inv = await _ok(await c.post(f"/api/sessions/{sid}/invitations", headers=host, json={
                "role": "observer", "name": "旁听人甲"}))
            cw.spare_inv[session] = inv["id"]
        if kind == "normal":
            order = await _ok(await c.post(f"/api/cases/{cw.code}/supervision", headers=creds[COUNTY].bearer, json={
                "instruction": "请按期办结", "due_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()}), 201)
            cw.order_id = order["id"]
        cw.rid = await _recording(c, cw.sid)
        form = aiohttp.FormData()
        form.add_field("description", "现场照片")
        form.add_field("file", io.BytesIO(b"%PDF-1.4\n% " + (MARK_DOC if kind == "dv" else b"evidence") + b"\n%%EOF\n"),
                       filename="证据.pdf", content_type="application/pdf")
        doc = await _ok(await c.post(f"/api/cases/{cw.code}/documents", data=form, headers=h), 201)
        cw.doc_id, cw.doc_url = doc["id"], doc["url"]
        cw.aid = await _agreement(c, h, cw)
        # Join tokens minted while still allowed: after sign-out and expiry they must open nothing.
        for actor in (GONE, EXPIRED):
            for sid in (cw.sid, cw.csid):
                r = await c.post(f"/api/sessions/{sid}/join-token", headers=creds[actor].bearer)
                if r.status == 200:
                    creds[actor].join_tokens[str(sid)] = (await r.json())["token"]
        world.cases[kind] = cw

    # Time passes for the expired expert's grants.
    past = datetime.now(UTC) - timedelta(hours=1)
    async with services(app).db.session() as s:
        await s.execute(update(CaseAccess).where(CaseAccess.staff_id == staff_ids[EXPIRED]).values(expires_at=past))
        await s.execute(update(Consultation).where(Consultation.expert_id == staff_ids[EXPIRED])
                        .values(grant_expires_at=past))
    services(app).actor_cache.forget()
    # The sign-out ends every token and cookie the account was issued.
    await _ok(await c.post("/api/auth/logout", headers=creds[GONE].bearer), 200, 204)
    assert (await c.get("/api/auth/me", headers=creds[GONE].bearer)).status == 401
    world.council = await _council(c, h)
    world.council_pages = await council_world.build(app, staff_ids[NAMED], TOWNSHIP, PNG)
    _ = (Case, ledger)
    return world


async def _council(c: TestClient, h: dict[str, str]) -> dict[str, int]:
    """A council at 龙亢镇, run by its mediators: members, a topic, a meeting with an item, a draft vote, a task
    with its proof photo."""
    council = await _ok(await c.post("/api/councils", headers=h, json={"unit": TOWNSHIP, "name": "龙亢镇居民议事会"}),
                        201)
    cid = council["id"]
    term = {"term_start": "2026-01-01", "term_end": "2028-12-31"}
    member = await _ok(await c.post(f"/api/councils/{cid}/members", headers=h, json={
        "role": "resident_rep", "name": "居民代表甲", **term}), 201)
    spare = await _ok(await c.post(f"/api/councils/{cid}/members", headers=h, json={
        "role": "guest", "name": "列席律师乙", **term}), 201)
    topic = await _ok(await c.post(f"/api/councils/{cid}/topics", headers=h, json={"title": "镇区停车难"}), 201)
    meeting = await _ok(await c.post(f"/api/councils/{cid}/meetings", headers=h, json={
        "title": "议事会", "place": "镇议事厅", "scheduled_at": "2030-01-01T10:00:00", "room": False}), 201)
    item = await _ok(await c.post(f"/api/councils/meetings/{meeting['id']}/items", headers=h,
                                  json={"title": "停车位规划"}), 201)
    vote = await _ok(await c.post(f"/api/councils/items/{item['id']}/votes", headers=h,
                                  json={"question": "是否同意增设停车位"}), 201)
    task = await _ok(await c.post(f"/api/councils/{cid}/tasks", headers=h, json={
        "title": "实地查看停车位", "owner": "居民代表甲", "deadline": "2030-12-31"}), 201)
    photo = await _ok(await c.post(f"/api/councils/tasks/{task['id']}/photos", headers=h, data=PNG), 201)
    return {"council": cid, "member": member["id"], "spare_member": spare["id"], "topic": topic["id"],
            "meeting": meeting["id"], "item": item["id"], "vote": vote["id"], "task": task["id"], "photo": photo["id"]}
