"""A domestic-violence case's session and everything it produces inherit the case's access (server/access.py).

Before the single policy, session access checked only the unit path: staff of the township and above who
were not named on the DV case got the session, its minutes, log, recording and a join token, could overwrite
the minutes and join the live room as moderator; an expert whose grant had expired kept the consultation.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.directory.models import Staff
from server.recording.models import Recording
from server.security import tokens
from server.services import services
from server.sessions import service
from tests.integration.agreements.helpers import content, mediator_name
from tests.integration.cases.helpers import act, create, hdr
from tests.support.rooms import connect, join

VICTIM = {"role": "victim", "name": "王五", "phone": "13700003333", "address": "幸福村3组8号"}
SECRET_MINUTES = "受害人暂住在幸福村3组8号（保密）"
UNNAMED = ("mediator_340321001", "mediator_340321", "admin_340321", "admin", "mediator_340302")


async def dv_session(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A DV case named to "mediator" only, its mediation session with minutes and one recording on disk."""
    case = await create(client, title="家庭暴力求助", category="policing", item="domestic_violence",
                        parties=[VICTIM, {"role": "perpetrator", "name": "赵六"}])
    assert case["restricted"] is True
    h = await hdr(client, "mediator")
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "背靠背调解", "unit": "340321001",
                                                 "case_id": case["id"]}, headers=h)
    assert r.status == 201, await r.text()
    sid = (await r.json())["id"]
    r = await client.put(f"/api/sessions/{sid}/minutes", json={"text": SECRET_MINUTES, "base_version": 0}, headers=h)
    assert r.status == 200, await r.text()
    root = services(client.app).config.recordings_dir
    rel = f"session-{sid}/track-001-video/seg-00000.webm"
    (root / rel).parent.mkdir(parents=True)
    payload = b"\x1a\x45\xdf\xa3" + b"webm" * 100
    (root / rel).write_bytes(payload)
    async with services(client.app).db.session() as s:
        rec = Recording(session_id=sid, artefact="segment", peer="p1", peer_name="王五", kind="video", track_no=1,
                        segment_index=0, path=rel, sha256=hashlib.sha256(payload).hexdigest(), bytes=len(payload),
                        duration_s=1.0, status="closed")
        s.add(rec)
        await s.flush()
        rid = rec.id
    return {"case": case, "sid": sid, "rid": rid}


def reads(sid: int, rid: int) -> list[tuple[str, str, dict | None]]:
    """Every read of a session's records: (method, path, json body)."""
    return [("GET", f"/api/sessions/{sid}", None), ("GET", f"/api/sessions/{sid}/log", None),
            ("GET", f"/api/sessions/{sid}/log.jsonl", None), ("GET", f"/api/sessions/{sid}/minutes", None),
            ("GET", f"/api/sessions/{sid}/minutes/versions", None), ("GET", f"/api/sessions/{sid}/recordings", None),
            ("GET", f"/api/sessions/{sid}/recordings/{rid}/file", None), ("GET", f"/api/sessions/{sid}/playback", None)]


def writes(sid: int) -> list[tuple[str, str, dict | None]]:
    """Every act on a session: join token, minutes, invitations, cancel, end."""
    return [("POST", f"/api/sessions/{sid}/join-token", None), ("GET", f"/api/sessions/{sid}/invitations", None),
            ("PUT", f"/api/sessions/{sid}/minutes", {"text": "覆盖", "base_version": 1}),
            ("POST", f"/api/sessions/{sid}/invitations", {"name": "王五"}),
            ("DELETE", f"/api/sessions/{sid}/invitations/1", None),
            ("POST", f"/api/sessions/{sid}/cancel", None), ("POST", f"/api/sessions/{sid}/end", None)]


async def status_of(client, h: dict[str, str], method: str, path: str, body: dict | None) -> int:  # type: ignore[no-untyped-def]
    r = await client.request(method, path, json=body, headers=h)
    await r.read()
    return r.status


async def listed(client, h: dict[str, str], sid: int, **query: str) -> bool:  # type: ignore[no-untyped-def]
    r = await client.get("/api/sessions", params=query, headers=h)
    assert r.status == 200
    return sid in [x["id"] for x in (await r.json())["sessions"]]


async def staff_id(client, username: str) -> int:  # type: ignore[no-untyped-def]
    async with services(client.app).db.session() as s:
        return int((await s.execute(select(Staff.id).where(Staff.username == username))).scalar_one())


def minted(client, sid: int, staff: int, role: str = "mediator") -> str:  # type: ignore[no-untyped-def]
    """A staff join token as POST .../join-token mints it (e.g. held from before the name was taken off)."""
    return tokens.sign(services(client.app).config.secret_key, service.JOIN_PURPOSE,
                       {"sid": sid, "role": role, "name": "x", "staff": staff}, service.STAFF_JOIN_TTL_S)


async def refused_at_the_door(client, token: str) -> None:  # type: ignore[no-untyped-def]
    p = await connect(client, token)
    err = await p.expect("error")
    assert err["code"] == "not_allowed", err
    assert await p.closed() is not None


async def test_named_mediator_works_the_dv_session(client) -> None:  # type: ignore[no-untyped-def]
    d = await dv_session(client)
    sid, rid = d["sid"], d["rid"]
    h = await hdr(client, "mediator")
    for method, path, body in reads(sid, rid):
        assert await status_of(client, h, method, path, body) == 200, path
    assert await listed(client, h, sid) and await listed(client, h, sid, case_id=str(d["case"]["id"]))
    r = await client.get(f"/api/sessions/{sid}/minutes", headers=h)
    assert (await r.json())["text"] == SECRET_MINUTES
    assert (await client.get(f"/sessions/{sid}", headers=h)).status == 200
    assert (await client.get(f"/sessions/{sid}/record", headers=h)).status == 200
    r = await client.post(f"/api/sessions/{sid}/invitations", json={"name": "王五"}, headers=h)
    assert r.status == 201
    party = (await r.json())["token"]
    r = await client.post(f"/api/sessions/{sid}/join-token", headers=h)
    assert r.status == 200
    host = await join(client, (await r.json())["token"])
    assert host.welcome["role"] == "host"
    # The party's invitation stays valid for the party: lobby, then admitted by the named mediator.
    victim = await join(client, party, expect="lobby")
    knock = await host.expect("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    await victim.expect("welcome")


async def test_unnamed_staff_get_404_on_every_record_of_the_dv_session(client) -> None:  # type: ignore[no-untyped-def]
    d = await dv_session(client)
    sid, rid = d["sid"], d["rid"]
    for username in UNNAMED:
        h = await hdr(client, username)
        for method, path, body in reads(sid, rid) + writes(sid):
            assert await status_of(client, h, method, path, body) == 404, (username, method, path)
        assert not await listed(client, h, sid), username
        assert not await listed(client, h, sid, case_id=str(d["case"]["id"])), username
        for page in (f"/sessions/{sid}", f"/sessions/{sid}/record", f"/sessions/{sid}/playback"):
            r = await client.get(page, headers=h)
            assert r.status == 404, (username, page)
            assert SECRET_MINUTES not in await r.text()
        # The session list page does not name it either.
        r = await client.get("/sessions", headers=h)
        assert "背靠背调解" not in await r.text(), username
    # Nothing was overwritten and nobody was invited by them.
    r = await client.get(f"/api/sessions/{sid}/minutes", headers=await hdr(client, "mediator"))
    assert (await r.json())["version"] == 1 and (await r.json())["text"] == SECRET_MINUTES
    # A staff token for the room (minted while they could, or forged with their id) is refused at the door.
    await refused_at_the_door(client, minted(client, sid, await staff_id(client, "mediator_340321001")))
    await refused_at_the_door(client, minted(client, sid, await staff_id(client, "mediator_340321")))


async def test_taking_a_name_off_the_list_closes_the_room_to_them(client) -> None:  # type: ignore[no-untyped-def]
    d = await dv_session(client)
    sid, code = d["sid"], d["case"]["code"]
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{code}/named-staff", headers=h, json={"add": ["mediator_340321001"]})
    assert r.status == 200, await r.text()
    colleague = await hdr(client, "mediator_340321001")
    r = await client.post(f"/api/sessions/{sid}/join-token", headers=colleague)
    assert r.status == 200
    token = (await r.json())["token"]
    assert await listed(client, colleague, sid)
    r = await client.post(f"/api/cases/{code}/named-staff", headers=h, json={"remove": ["mediator_340321001"]})
    assert r.status == 200, await r.text()
    await refused_at_the_door(client, token)
    assert await status_of(client, colleague, "GET", f"/api/sessions/{sid}/minutes", None) == 404
    assert not await listed(client, colleague, sid)


async def test_a_session_that_becomes_a_dv_cases_is_closed_to_the_unnamed(client) -> None:  # type: ignore[no-untyped-def]
    case = await create(client, "grid_340321001001", unit="340321001001", category=None, item=None, parties=[])
    code = case["code"]
    await act(client, "grid_340321001001", code, "escalate", unit="340321001", reason="疑似家暴")
    county = await hdr(client, "mediator_340321")
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "初次接谈", "unit": "340321001",
                                                 "case_id": case["id"]}, headers=county)
    assert r.status == 201, await r.text()
    sid = (await r.json())["id"]
    assert await status_of(client, county, "GET", f"/api/sessions/{sid}", None) == 200
    token = (await (await client.post(f"/api/sessions/{sid}/join-token", headers=county)).json())["token"]
    await act(client, "mediator", code, "triage", category="policing", item="domestic_violence", grade="red")
    # The county mediator created the session, but is not on the case's list: it is gone for them.
    assert await status_of(client, county, "GET", f"/api/sessions/{sid}", None) == 404
    assert await status_of(client, county, "POST", f"/api/sessions/{sid}/cancel", None) == 404
    assert not await listed(client, county, sid)
    await refused_at_the_door(client, token)
    assert await status_of(client, await hdr(client, "mediator"), "GET", f"/api/sessions/{sid}", None) == 200


async def test_expert_grant_expiry_closes_the_consultation(client) -> None:  # type: ignore[no-untyped-def]
    d = await dv_session(client)
    code = d["case"]["code"]
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{code}/consultations", headers=h,
                          json={"specialty": "land", "question": "房屋归属？", "expert": "expert", "grant_hours": 2})
    assert r.status == 201, await r.text()
    hx = await hdr(client, "expert")
    r = await client.post(f"/api/consultations/{(await r.json())['id']}/accept", headers=hx, json={})
    assert r.status == 200, await r.text()
    sid = (await r.json())["session_id"]
    # A live grant: the expert reads the consultation and joins it.
    for path in (f"/api/sessions/{sid}", f"/api/sessions/{sid}/log", f"/api/sessions/{sid}/minutes",
                 f"/api/sessions/{sid}/invitations"):
        assert await status_of(client, hx, "GET", path, None) == 200, path
    assert await listed(client, hx, sid)
    assert code in await (await client.get("/api/consultations", headers=hx)).text()
    r = await client.post(f"/api/sessions/{sid}/join-token", headers=hx)
    assert r.status == 200
    token = (await r.json())["token"]
    # Not the mediation session of the same case: the grant is to the case, the session is the mediator's.
    assert await status_of(client, hx, "GET", f"/api/sessions/{d['sid']}", None) == 200
    assert await status_of(client, hx, "GET", f"/api/sessions/{d['sid']}/recordings/{d['rid']}/file", None) == 403
    assert await status_of(client, hx, "PUT", f"/api/sessions/{d['sid']}/minutes",
                           {"text": "x", "base_version": 1}) == 403

    services(client.app).clock.set(datetime.now(UTC) + timedelta(hours=3))  # the 2-hour grant has run out
    for method, path, body in reads(sid, d["rid"]) + writes(sid):
        assert await status_of(client, hx, method, path, body) == 404, (method, path)
    for method, path, body in reads(d["sid"], d["rid"]):
        assert await status_of(client, hx, method, path, body) == 404, (method, path)
    assert not await listed(client, hx, sid)
    await refused_at_the_door(client, token)
    # The consultation, with the case's code and title, is off the expert's list too.
    r = await client.get("/api/consultations", headers=hx)
    assert r.status == 200 and code not in await r.text() and "家庭暴力" not in await r.text()
    # The named mediator still has it all.
    assert await status_of(client, h, "GET", f"/api/sessions/{sid}", None) == 200


async def test_unrestricted_case_sessions_follow_the_case_and_caseless_ones_the_unit(client) -> None:  # type: ignore[no-untyped-def]
    case = await create(client)
    h = await hdr(client, "mediator")
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "宅基地调解", "unit": "340321001",
                                                 "case_id": case["id"]}, headers=h)
    with_case = (await r.json())["id"]
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "来访接待", "unit": "340321001"},
                          headers=h)
    without = (await r.json())["id"]
    for sid in (with_case, without):
        for username in ("mediator_340321001", "mediator_340321", "admin"):
            assert await status_of(client, await hdr(client, username), "GET", f"/api/sessions/{sid}", None) == 200
        for username in ("mediator_340302", "mediator_340321002"):
            assert await status_of(client, await hdr(client, username), "GET", f"/api/sessions/{sid}", None) == 404
    # Experts see a case only on a grant, so its session too; a session without a case is the unit's.
    hx = await hdr(client, "expert")
    assert await status_of(client, hx, "GET", f"/api/sessions/{with_case}", None) == 404
    assert await status_of(client, hx, "GET", f"/api/sessions/{without}", None) == 200


async def test_a_notice_stops_naming_a_case_that_becomes_restricted(client) -> None:  # type: ignore[no-untyped-def]
    case = await create(client, "grid_340321001001", unit="340321001001", category=None, item=None, parties=[],
                        title="邻里噪音投诉")
    code = case["code"]
    await act(client, "grid_340321001001", code, "escalate", unit="340321001", reason="需调解")
    r = await client.post("/api/notices", json={"kind": "bulletin", "title": "本周重点", "body": "见案件",
                                                "case": code}, headers=await hdr(client, "mediator_340321"))
    assert r.status == 201, await r.text()

    async def board(username: str) -> dict[str, Any]:
        r = await client.get("/api/notices", headers=await hdr(client, username))
        return next(n for n in (await r.json())["notices"] if n["title"] == "本周重点")

    assert (await board("mediator_340321001"))["case"] == code
    await act(client, "mediator", code, "triage", category="policing", item="domestic_violence", grade="red")
    for username in ("mediator_340321001", "mediator_340321", "admin"):
        n = await board(username)  # the notice stays, its case is no longer named
        assert n["case"] is None, username
        r = await client.get("/notices", headers=await hdr(client, username))
        assert code not in await r.text()
    assert (await board("mediator"))["case"] == code


async def test_a_party_reads_the_agreement_when_admitted_in_the_room(client) -> None:  # type: ignore[no-untyped-def]
    """The in-room agreement panel reads with the invitation alone while its holder is admitted (the room's
    door asked the check); outside the room the same invitation needs the check's ticket."""
    h = await hdr(client, "mediator")
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "工资纠纷调解", "unit": "340321001"},
                          headers=h)
    sid = (await r.json())["id"]
    r = await client.post(f"/api/sessions/{sid}/invitations", json={
        "role": "party", "name": "张三", "check": {"method": "id_last4", "value": "7774"}}, headers=h)
    zhang = await r.json()
    name = await mediator_name(client, h)
    r = await client.post("/api/agreements", json={"session_id": sid, "content": content(mediator_name=name)},
                          headers=h)
    assert r.status == 201, await r.text()
    view = f"/api/agreements/{(await r.json())['id']}/party?invitation={zhang['token']}"
    r = await client.get(view)
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_not_checked"
    assert "张三" not in await r.text()
    host = await join(client, (await (await client.post(f"/api/sessions/{sid}/join-token", headers=h)).json())["token"])
    party = await join(client, zhang["token"], expect="lobby", check="7774")
    r = await client.get(view)
    assert r.status == 403  # waiting in the lobby is not admitted
    knock = await host.expect("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    await party.expect("welcome")
    r = await client.get(view)
    assert r.status == 200 and (await r.json())["name"] == "张三"
    await party.send({"type": "leave"})
    await host.expect("peer-left")
    r = await client.get(view)
    assert r.status == 403  # out of the room again
