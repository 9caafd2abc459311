"""Sessions API: create, list, detail, cancel, end, invitations, join tokens and their refusals."""

from __future__ import annotations

from server.security import tokens
from server.services import services
from tests.conftest import login
from tests.support.rooms import invite, join, make_session, staff_token


async def test_create_and_detail(client) -> None:
    h = await login(client, "mediator")
    # A session links to a case the caller can see (server.cases.hooks.settings_for_case).
    r = await client.post("/api/cases", json={"unit": "340321001", "title": "宅基地纠纷"}, headers=h)
    case_id = (await r.json())["id"]
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "宅基地纠纷调解", "unit": "340321001",
                                                 "scheduled_at": "2026-03-01T09:30:00", "case_id": case_id}, headers=h)
    assert r.status == 201
    s = await r.json()
    assert s["state"] == "scheduled" and s["kind"] == "mediation" and s["unit"] == "340321001"
    assert s["scheduled_at"] == "2026-03-01T01:30:00.000000Z"  # no offset: Asia/Shanghai wall clock
    assert s["case_id"] == case_id and s["rules"]["lobby"] == "hosting_unit_direct"
    d = await (await client.get(f"/api/sessions/{s['id']}", headers=h)).json()
    assert d["can_moderate"] is True and d["my_role"] == "host" and d["invitations"] == []


async def test_create_refusals(client) -> None:
    h = await login(client, "mediator")
    for body, status in [
        ({"kind": "party", "title": "x", "unit": "340321001"}, 400),
        ({"kind": "mediation", "title": "  ", "unit": "340321001"}, 400),
        ({"kind": "mediation", "unit": "340321001"}, 400),
        ({"kind": "mediation", "title": "x", "unit": "340321"}, 404),  # above the mediator's township
        ({"kind": "mediation", "title": "x", "unit": "nope"}, 404),
        ({"kind": "dispatch", "title": "x", "unit": "340321001"}, 403),  # townships do not dispatch
        ({"kind": "mediation", "title": "x", "unit": "340321001", "scheduled_at": "tomorrow"}, 400),
        ({"kind": "mediation", "title": "x", "unit": "340321001", "case_id": "7"}, 400),
        ({"kind": "mediation", "title": "x" * 201, "unit": "340321001"}, 400),
    ]:
        r = await client.post("/api/sessions", json=body, headers=h)
        assert r.status == status, (body, await r.text())
        assert "error" in await r.json()
    r = await client.post("/api/sessions", data=b"[1,2", headers=h)
    assert r.status == 400
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "x", "unit": "340321001"})
    assert r.status == 401
    # A grid worker may not host.
    g = await login(client, "grid_340321001001")
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "x", "unit": "340321001001"}, headers=g)
    assert r.status == 403


async def test_list_is_filtered_by_tier(client) -> None:
    sid, h = await make_session(client)
    other, _ = await make_session(client, "mediator_340302001", unit="340302001")
    mine = [s["id"] for s in (await (await client.get("/api/sessions", headers=h)).json())["sessions"]]
    assert sid in mine and other not in mine
    admin = await login(client, "admin")
    ids = [s["id"] for s in (await (await client.get("/api/sessions", headers=admin)).json())["sessions"]]
    assert sid in ids and other in ids
    r = await client.get("/api/sessions?unit=340302001", headers=admin)
    assert [s["id"] for s in (await r.json())["sessions"]] == [other]
    assert (await client.get("/api/sessions?unit=340302001", headers=h)).status == 404
    assert (await client.get(f"/api/sessions/{other}", headers=h)).status == 404
    r = await client.get("/api/sessions?state=scheduled&kind=mediation&limit=1", headers=admin)
    assert len((await r.json())["sessions"]) == 1
    assert (await client.get("/api/sessions?limit=x", headers=admin)).status == 400
    for bad in ("state=done", "kind=party", "colour=red"):
        r = await client.get(f"/api/sessions?{bad}", headers=admin)
        assert r.status == 400 and (await r.json())["error"]["code"] in ("invalid_filter", "unknown_parameter")


async def test_invited_expert_sees_session_and_joins_with_invitation_role(client) -> None:
    sid, h = await make_session(client)
    e = await login(client, "expert_340302")  # another county's expert: outside the township's subtree
    assert (await client.get(f"/api/sessions/{sid}", headers=e)).status == 404
    inv = await invite(client, h, sid, "", role="expert", username="expert_340302")
    assert inv["name"].startswith("专家") and inv["staff_id"]
    assert sid in [s["id"] for s in (await (await client.get("/api/sessions", headers=e)).json())["sessions"]]
    d = await (await client.get(f"/api/sessions/{sid}", headers=e)).json()
    assert d["my_role"] == "expert" and d["can_moderate"] is False and "invitations" not in d
    tok = await staff_token(client, e, sid)
    assert tokens.verify(b"test-secret-key-not-for-production", "join", tok)["role"] == "expert"


async def test_invitation_shapes_and_code_check(client) -> None:
    sid, h = await make_session(client)
    inv = await invite(client, h, sid, "李四", check={"method": "code"})
    assert inv["url"] == f"/join/{inv['token']}" and inv["check"] == "code" and len(inv["code"]) == 6
    inv2 = await invite(client, h, sid, "王五", check={"method": "id_last4", "value": "123x"})
    assert inv2["check"] == "id_last4" and "code" not in inv2
    listed = (await (await client.get(f"/api/sessions/{sid}/invitations", headers=h)).json())["invitations"]
    assert [i["name"] for i in listed] == ["李四", "王五"]
    assert listed[0]["token"] == inv["token"]  # reproducible link, never the code
    assert all("code" not in i for i in listed)
    d = await (await client.get(f"/api/join/{inv['token']}")).json()
    assert d == {"session": d["session"], "role": "party", "name": "李四", "check": "code", "lobby": True}
    assert d["session"]["id"] == sid and d["session"]["unit_name"] == "龙亢镇"


async def test_invitation_refusals(client) -> None:
    sid, h = await make_session(client)
    for body, status in [
        ({"name": "x", "role": "recorder"}, 400),
        ({"name": "x", "role": "king"}, 400),
        ({"role": "party"}, 400),
        ({"name": "x", "check": {"method": "id_last4", "value": "12"}}, 400),
        ({"name": "x", "check": {"method": "id_last4"}}, 400),
        ({"name": "x", "check": {"method": "dna"}}, 400),
        ({"name": "x", "check": "code"}, 400),
        ({"name": "x", "username": "ghost"}, 404),
        ({"name": "x", "ttl_hours": 0}, 400),
        ({"name": "x" * 101}, 400),
    ]:
        r = await client.post(f"/api/sessions/{sid}/invitations", json=body, headers=h)
        assert r.status == status, (body, await r.text())
    g = await login(client, "grid_340321001001")  # sees the township? no: village below it
    assert (await client.post(f"/api/sessions/{sid}/invitations", json={"name": "x"}, headers=g)).status == 404
    obs = await login(client, "observer")  # city observer: sees it, may not invite
    r = await client.post(f"/api/sessions/{sid}/invitations", json={"name": "x"}, headers=obs)
    assert r.status == 403
    assert (await client.get(f"/api/sessions/{sid}/invitations", headers=obs)).status == 403
    assert (await client.get("/api/join/garbage")).status == 401


async def test_default_invitation_role_follows_kind(client) -> None:
    sid, h = await make_session(client, "mediator_340321", kind="dispatch", unit="340321")
    r = await client.post(f"/api/sessions/{sid}/invitations", json={"name": "各镇调解员"}, headers=h)
    assert (await r.json())["role"] == "observer"
    r = await client.post(f"/api/sessions/{sid}/invitations", json={"name": "x", "role": "agent"}, headers=h)
    assert r.status == 400  # no agents at a briefing


async def test_revoke_and_cancel(client) -> None:
    sid, h = await make_session(client)
    inv = await invite(client, h, sid, "李四")
    r = await client.delete(f"/api/sessions/{sid}/invitations/{inv['id']}", headers=h)
    assert r.status == 200 and (await r.json())["revoked"] is True
    assert (await client.get(f"/api/join/{inv['token']}")).status == 403
    assert (await client.delete(f"/api/sessions/{sid}/invitations/999", headers=h)).status == 404
    assert (await client.delete(f"/api/sessions/{sid}/invitations/x", headers=h)).status == 404
    r = await client.post(f"/api/sessions/{sid}/cancel", headers=h)
    assert r.status == 200 and (await r.json())["state"] == "cancelled"
    assert (await client.post(f"/api/sessions/{sid}/cancel", headers=h)).status == 409
    assert (await client.post(f"/api/sessions/{sid}/invitations", json={"name": "x"}, headers=h)).status == 409
    assert (await client.post(f"/api/sessions/{sid}/join-token", headers=h)).status == 409


async def test_staff_roles_by_policy(client) -> None:
    sid, h = await make_session(client)
    sup = await login(client, "supervisor")  # city mediator: supervises, watches
    assert (await (await client.get(f"/api/sessions/{sid}", headers=sup)).json())["my_role"] == "observer"
    county = await login(client, "mediator_340321")
    assert (await (await client.get(f"/api/sessions/{sid}", headers=county)).json())["my_role"] == "observer"
    tok = await staff_token(client, h, sid)
    body = tokens.verify(b"test-secret-key-not-for-production", "join", tok)
    assert body["role"] == "host" and body["sid"] == sid and "staff" in body


async def test_session_goes_live_and_ends(client) -> None:
    sid, h = await make_session(client)
    host = await join(client, await staff_token(client, h, sid))
    app = client.server.app
    await services(app).room_events.flush()
    s = await (await client.get(f"/api/sessions/{sid}", headers=h)).json()
    assert s["state"] == "live" and s["started_at"] and s["room"]["peers"][0]["role"] == "host"
    assert (await client.post(f"/api/sessions/{sid}/cancel", headers=h)).status == 409
    await host.send({"type": "leave"})
    assert await host.closed() == 1000
    await services(app).room_events.flush()
    # Leaving is not ending: the session stays live for people to come back (until the idle timeout).
    s = await (await client.get(f"/api/sessions/{sid}", headers=h)).json()
    assert s["state"] == "live" and s["ended_at"] is None
    r = await client.post(f"/api/sessions/{sid}/end", headers=h)
    assert r.status == 200 and (await r.json())["state"] == "ended"
    await services(app).room_events.flush()
    s = await (await client.get(f"/api/sessions/{sid}", headers=h)).json()
    assert s["state"] == "ended" and s["ended_at"]
    async with services(app).db.session() as db_s:
        from server import ledger, ledger_store
        events = await ledger_store.events(db_s, ledger.session_chain(sid))
        result = await ledger_store.verify_chain(db_s, ledger.session_chain(sid))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["session_created", "peer_joined"] and "session_live" in kinds
    assert kinds[-3:] == ["peer_left", "room_empty", "session_ended"] and result.ok


async def test_end_via_api_closes_room(client) -> None:
    sid, h = await make_session(client)
    host = await join(client, await staff_token(client, h, sid))
    r = await client.post(f"/api/sessions/{sid}/end", headers=h)
    assert r.status == 200 and (await r.json())["state"] == "ended"
    room = await host.expect("room")
    assert room["room"]["state"] == "ended"
    assert await host.closed() == 4410
    await services(client.server.app).room_events.flush()
    assert (await (await client.get(f"/api/sessions/{sid}", headers=h)).json())["state"] == "ended"
    assert (await client.post(f"/api/sessions/{sid}/end", headers=h)).status == 409


async def test_end_without_room_sets_state(client) -> None:
    sid, h = await make_session(client)
    r = await client.post(f"/api/sessions/{sid}/end", headers=h)
    assert (await r.json())["state"] == "ended"


async def test_expired_invitation_token_refused(client) -> None:
    sid, h = await make_session(client)
    tok = tokens.sign(b"test-secret-key-not-for-production", "join", {"sid": sid, "role": "party", "name": "x",
                                                                      "n": "0" * 32}, ttl_s=-10)
    r = await client.get(f"/api/join/{tok}")
    assert r.status == 401 and (await r.json())["error"]["code"] == "token_expired"
