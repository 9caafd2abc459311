"""Signaling protocol v1 over real WebSockets (aiohttp test server): the good path and every bad input."""

from __future__ import annotations

import asyncio
import json

import pytest

from server.security import tokens
from server.services import services
from tests.conftest import login
from tests.support.rooms import Peer, connect, invite, join, make_session, staff_token

SECRET = b"test-secret-key-not-for-production"


async def still_open(p: Peer) -> None:
    await p.send({"type": "ping"})
    await p.expect("pong")


async def room_with_party(client, *, kind: str = "mediation", user: str = "mediator",
                          unit: str = "340321001") -> tuple[int, dict, Peer, Peer]:
    """A live session: the host and one admitted party."""
    sid, h = await make_session(client, user, kind=kind, unit=unit)
    host = await join(client, await staff_token(client, h, sid))
    inv = await invite(client, h, sid, "张三")
    party = await join(client, inv["token"], expect="lobby")
    knock = await host.expect("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    party.welcome = await party.expect("welcome")
    party.peer_id = party.welcome["peer_id"]
    party.token = inv["token"]  # type: ignore[attr-defined]
    await host.expect("peer-joined")
    return sid, h, host, party


# ---- joining ---------------------------------------------------------------------------------------


async def test_welcome_shape(client) -> None:
    sid, h, host, party = await room_with_party(client)
    w = party.welcome
    assert set(w) >= {"type", "peer_id", "resume", "role", "room", "peers", "ice_servers"}
    assert w["role"] == "party" and w["room"]["session_id"] == sid and w["room"]["kind"] == "mediation"
    assert [(p["id"], p["role"]) for p in w["peers"]] == [(host.peer_id, "host")]
    assert all({"id", "name", "role", "subroom"} <= set(p) for p in w["peers"])
    assert isinstance(w["resume"], str) and len(w["resume"]) >= 24 and w["ice_servers"] == []


async def test_lobby_then_deny(client) -> None:
    sid, h = await make_session(client)
    host = await join(client, await staff_token(client, h, sid))
    inv = await invite(client, h, sid, "李四")
    a = await join(client, inv["token"], expect="lobby")
    knock = await host.expect("knock")
    assert knock["peer"]["name"] == "李四"
    # In the lobby: no room traffic, no moderator powers, no chat.
    await host.send({"type": "chat", "text": "大家好"})
    await a.send({"type": "chat", "text": "let me in"})
    assert (await a.expect("error"))["code"] == "not_admitted"
    await a.send({"type": "signal", "to": host.peer_id, "data": {"description": {}}})
    assert (await a.expect("error"))["code"] == "not_admitted"
    await a.send({"type": "consent", "recording": True})
    assert (await a.expect("error"))["code"] == "not_admitted"
    await still_open(a)
    assert [m["type"] for m in await a.quiet()] == []
    await host.send({"type": "deny", "peer": knock["peer"]["id"]})
    err = await a.expect("error")
    assert err["code"] == "denied"
    assert await a.closed() == 4403
    assert (await host.expect("peer-left"))["reason"] == "denied"
    # Denied is final for that invitation.
    again = await connect(client, inv["token"])
    assert (await again.expect("error"))["code"] == "removed"
    assert await again.closed() == 4403


async def test_lobby_waits_for_host(client) -> None:
    sid, h = await make_session(client)
    inv = await invite(client, h, sid, "李四")
    a = await join(client, inv["token"], expect="lobby")
    host = await join(client, await staff_token(client, h, sid))
    knock = await host.expect("knock")
    assert knock["peer"]["id"]
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    assert (await a.expect("welcome"))["room"]["state"] == "live"


async def test_staff_of_hosting_unit_direct_others_lobby_and_lock(client) -> None:
    sid, h = await make_session(client)
    host = await join(client, await staff_token(client, h, sid))
    sup = await login(client, "supervisor")  # city: a unit above the township enters directly
    s = await join(client, await staff_token(client, sup, sid))
    assert s.welcome["role"] == "observer"
    inv = await invite(client, h, sid, "", role="expert", username="expert_340302")
    ex = await join(client, inv["token"], expect="lobby")  # another county's staff waits
    await host.expect("knock")
    await host.send({"type": "lock", "locked": True})
    assert (await host.expect("room"))["room"]["locked"] is True
    await s.send({"type": "leave"})
    await s.closed()
    s2 = await connect(client, await staff_token(client, sup, sid))
    await s2.expect("lobby")  # locked: even staff wait
    await ex.send({"type": "leave"})
    await ex.closed()


async def test_host_and_mediator_invitations_enter_directly(client) -> None:
    sid, h = await make_session(client)
    inv = await invite(client, h, sid, "外聘调解员", role="mediator")
    m = await join(client, inv["token"])
    assert m.welcome["role"] == "mediator" and m.welcome["room"]["state"] == "live"


# ---- token refusals: error, then close ---------------------------------------------------------------


@pytest.mark.parametrize("case", ["expired", "forged", "malformed", "wrong_session", "revoked", "not_json_token",
                                  "other_purpose"])
async def test_bad_tokens_error_then_close(client, case: str) -> None:
    sid, h = await make_session(client)
    other, _ = await make_session(client)
    inv = await invite(client, h, sid, "李四")
    join_fields: dict = {}
    if case == "expired":
        body = tokens.verify(SECRET, "join", inv["token"])
        token = tokens.sign(SECRET, "join", {k: v for k, v in body.items() if k != "exp"}, ttl_s=-5)
        code = "token_expired"
    elif case == "forged":
        token = tokens.sign(b"some-other-key", "join", {"sid": sid, "role": "host", "name": "x", "staff": 1}, 60)
        code = "token_invalid"
    elif case == "malformed":
        token, code = "abc", "token_malformed"
    elif case == "wrong_session":
        token, code = inv["token"], "wrong_session"
        join_fields = {"session": other}
    elif case == "revoked":
        await client.delete(f"/api/sessions/{sid}/invitations/{inv['id']}", headers=h)
        token, code = inv["token"], "token_revoked"
    elif case == "not_json_token":
        token, code = 12345, "invalid_field"
    else:
        token = tokens.sign(SECRET, "api", {"sub": 1}, 60)
        code = "token_invalid"
    p = await connect(client, token, **join_fields)  # type: ignore[arg-type]
    err = await p.expect("error")
    assert err["code"] == code and err["message"]
    assert await p.closed() >= 4000


async def test_wrong_session_via_query(client) -> None:
    sid, h = await make_session(client)
    other, _ = await make_session(client)
    ws = await client.ws_connect(f"/ws?session={other}")
    p = Peer(ws)
    await p.send({"type": "join", "token": await staff_token(client, h, sid)})
    assert (await p.expect("error"))["code"] == "wrong_session"
    assert await p.closed() == 4401


async def test_first_message_must_be_join(client) -> None:
    p = await connect(client)
    await p.send({"type": "ping"})
    assert (await p.expect("error"))["code"] == "not_joined"
    assert await p.closed() == 4400
    p = await connect(client)
    await p.send("not json")
    assert (await p.expect("error"))["code"] == "invalid_json"
    assert await p.closed() == 4400


async def test_join_timeout(client) -> None:
    services(client.server.app).signaling.join_timeout_s = 0.3
    p = await connect(client)
    assert (await p.expect("error"))["code"] == "join_timeout"
    assert await p.closed() == 4400


async def test_plain_http_get_is_a_clear_400(client) -> None:
    r = await client.get("/ws")
    assert r.status == 400 and (await r.json())["error"]["code"] == "websocket_expected"


async def test_ended_session_refuses_join(client) -> None:
    sid, h = await make_session(client)
    token = await staff_token(client, h, sid)
    host = await join(client, token)
    await host.send({"type": "end"})
    assert await host.closed() == 4410
    p = await connect(client, token)  # the room remembers it ended, before the database has caught up
    assert (await p.expect("error"))["code"] == "session_ended"
    assert await p.closed() == 4410
    await services(client.server.app).room_events.flush()
    p = await connect(client, token)
    assert (await p.expect("error"))["code"] == "session_ended"
    assert await p.closed() == 4410


# ---- identity checks ---------------------------------------------------------------------------------


async def test_id_last4_check(client) -> None:
    sid, h = await make_session(client)
    host = await join(client, await staff_token(client, h, sid))
    inv = await invite(client, h, sid, "李四", check={"method": "id_last4", "value": "123X"})
    p = await connect(client, inv["token"])
    assert (await p.expect("error"))["code"] == "check_required"
    assert await p.closed() == 4401
    p = await connect(client, inv["token"], check="9999")
    assert (await p.expect("error"))["code"] == "check_failed"
    await p.closed()
    p = await join(client, inv["token"], expect="lobby", check="123x")  # case does not matter
    knock = await host.expect("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    w = await p.expect("welcome")
    # Resuming skips the check: the resume token proves it is the same person.
    p.ws._response.connection.transport.abort()
    await host.expect("peer-updated")
    p2 = await join(client, inv["token"], resume=w["resume"])
    assert p2.welcome["resumed"] is True and p2.peer_id == w["peer_id"]


async def test_code_check_locks_after_failures(client) -> None:
    sid, h = await make_session(client)
    inv = await invite(client, h, sid, "李四", check={"method": "code"})
    wrong = "000000" if inv["code"] != "000000" else "111111"
    for _ in range(5):
        p = await connect(client, inv["token"], check=wrong)
        assert (await p.expect("error"))["code"] == "check_failed"
        await p.closed()
    p = await connect(client, inv["token"], check=inv["code"])
    assert (await p.expect("error"))["code"] == "check_locked"


async def test_code_check_passes(client) -> None:
    sid, h = await make_session(client)
    inv = await invite(client, h, sid, "李四", check={"method": "code"})
    await join(client, inv["token"], expect="lobby", check=inv["code"])


# ---- bad messages: error, connection stays open ------------------------------------------------------


async def test_bad_messages_keep_connection_open(client) -> None:
    sid, h, host, party = await room_with_party(client)
    cases = [
        ("this is not json", "invalid_json"),
        ("[1, 2, 3]", "invalid_message"),
        (json.dumps({"no": "type"}), "missing_field"),
        (json.dumps({"type": 5}), "missing_field"),
        (json.dumps({"type": "dance"}), "unknown_type"),
        (json.dumps({"type": "signal", "data": {}}), "missing_field"),
        (json.dumps({"type": "signal", "to": host.peer_id}), "missing_field"),
        (json.dumps({"type": "signal", "to": host.peer_id, "data": "x"}), "invalid_field"),
        (json.dumps({"type": "signal", "to": "nobody", "data": {"candidate": {}}}), "unknown_peer"),
        (json.dumps({"type": "signal", "to": party.peer_id, "data": {"candidate": {}}}), "unknown_peer"),
        (json.dumps({"type": "chat"}), "missing_field"),
        (json.dumps({"type": "chat", "text": "   "}), "invalid_field"),
        (json.dumps({"type": "chat", "text": "x" * 2001}), "invalid_field"),
        (json.dumps({"type": "hand", "raised": "yes"}), "invalid_field"),
        (json.dumps({"type": "join", "token": "x"}), "already_joined"),
        (json.dumps({"type": "signal", "to": host.peer_id, "data": {"description": "x" * 70_000}}), "too_large"),
    ]
    for raw, code in cases:
        await party.send(raw)
        err = await party.expect("error")
        assert err["code"] == code, (raw[:60], err)
    await party.ws.send_bytes(b"\x00\x01")
    assert (await party.expect("error"))["code"] == "invalid_message"
    await still_open(party)
    # The host saw none of it.
    assert [m for m in await host.quiet() if m["type"] not in ("peer-updated",)] == []


@pytest.mark.parametrize("msg", [
    {"type": "admit", "peer": "x"}, {"type": "deny", "peer": "x"}, {"type": "mute", "peer": "x", "kind": "audio"},
    {"type": "remove", "peer": "x"}, {"type": "lock", "locked": True}, {"type": "move", "peer": "x", "subroom": "a"},
    {"type": "floor", "peer": None}, {"type": "recording", "on": True}, {"type": "end"},
])
async def test_party_moderator_action_refused(client, msg: dict) -> None:
    sid, h, host, party = await room_with_party(client)
    m = dict(msg)
    if "peer" in m and m["peer"] == "x":
        m["peer"] = host.peer_id
    await party.send(m)
    err = await party.expect("error")
    assert err["code"] == "forbidden" and err["ref"] == m["type"]
    await still_open(party)
    assert host.peer_id in [p["id"] for p in party.welcome["peers"]]


async def test_moderator_errors_on_bad_targets(client) -> None:
    sid, h, host, party = await room_with_party(client)
    await host.send({"type": "mute", "peer": "ghost", "kind": "audio"})
    assert (await host.expect("error"))["code"] == "unknown_peer"
    await host.send({"type": "mute", "peer": party.peer_id, "kind": "smell"})
    assert (await host.expect("error"))["code"] == "invalid_field"
    await host.send({"type": "move", "peer": party.peer_id, "subroom": "x" * 41})
    assert (await host.expect("error"))["code"] == "invalid_field"
    await host.send({"type": "remove", "peer": host.peer_id})
    assert (await host.expect("error"))["code"] == "invalid_field"
    await still_open(host)


# ---- room behaviour ----------------------------------------------------------------------------------


async def test_signal_relay_chat_hand_floor_mute(client) -> None:
    sid, h, host, party = await room_with_party(client, kind="petition", user="petition", unit="340300")
    data = {"description": {"type": "offer", "sdp": "v=0..."}}
    await party.send({"type": "signal", "to": host.peer_id, "data": data})
    sig = await host.expect("signal")
    assert sig == {"type": "signal", "from": party.peer_id, "data": data}
    await party.send({"type": "chat", "text": "我有话说"})
    for p in (host, party):
        c = await p.expect("chat")
        assert c["from"] == party.peer_id and c["text"] == "我有话说" and c["at"].endswith("Z")
    assert party.welcome["peers"][0]["may_speak"] is True
    me = [p for p in (await host.quiet()) if p["type"] == "peer-updated"]
    assert me == [] or all(p["peer"]["id"] == party.peer_id for p in me)
    await party.send({"type": "hand", "raised": True})
    upd = await host.expect("peer-updated")
    assert upd["peer"]["hand"] is True and upd["peer"]["may_speak"] is False  # petition: floor needed
    await host.send({"type": "floor", "peer": party.peer_id})
    room = await party.expect("room", where=lambda m: m["room"]["floor"] is not None)
    assert room["room"]["floor"] == party.peer_id and room["room"]["hands"] == []
    await host.send({"type": "mute", "peer": party.peer_id, "kind": "audio"})
    assert (await party.expect("muted"))["kind"] == "audio"


async def test_subroom_isolation(client) -> None:
    sid, h, host, a = await room_with_party(client)
    inv = await invite(client, h, sid, "李四")
    b = await join(client, inv["token"], expect="lobby")
    knock = await host.expect("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    bw = await b.expect("welcome")
    b.peer_id = bw["peer_id"]
    await host.send({"type": "move", "peer": a.peer_id, "subroom": "甲方"})
    moved = await a.expect("moved")
    assert moved["subroom"] == "甲方" and moved["peers"] == []
    upd = await b.expect("peer-updated", timeout=5)
    assert upd["peer"]["id"] == a.peer_id and upd["peer"]["subroom"] == "甲方"
    for src, dst in ((a, b), (b, a), (a, host)):
        await src.send({"type": "signal", "to": dst.peer_id, "data": {"candidate": {"candidate": ""}}})
        assert (await src.expect("error"))["code"] == "other_subroom"
    await b.send({"type": "chat", "text": "主室消息"})
    await b.expect("chat")
    assert [m for m in await a.quiet() if m["type"] in ("chat", "signal")] == []
    # The mediator joins the sub-room: now they may signal, and the main room may not reach them.
    await host.send({"type": "move", "peer": host.peer_id, "subroom": "甲方"})
    assert (await host.expect("moved"))["peers"] == [a.peer_id]
    await host.send({"type": "signal", "to": a.peer_id, "data": {"description": {"type": "offer", "sdp": "x"}}})
    assert (await a.expect("signal"))["from"] == host.peer_id
    await b.send({"type": "signal", "to": host.peer_id, "data": {"candidate": {}}})
    assert (await b.expect("error"))["code"] == "other_subroom"
    await host.send({"type": "move", "peer": a.peer_id, "subroom": None})
    assert (await a.expect("moved")) == {"type": "moved", "subroom": None, "peers": [b.peer_id]}


async def test_removal(client) -> None:
    sid, h, host, party = await room_with_party(client)
    await host.send({"type": "remove", "peer": party.peer_id})
    assert (await party.expect("removed"))["type"] == "removed"
    assert await party.closed() == 4403
    left = await host.expect("peer-left")
    assert left == {"type": "peer-left", "peer_id": party.peer_id, "reason": "removed"}
    p = await connect(client, party.token)  # type: ignore[attr-defined]
    assert (await p.expect("error"))["code"] == "removed"
    assert await p.closed() == 4403


async def test_resume_after_socket_kill(client) -> None:
    sid, h, host, party = await room_with_party(client)
    await host.send({"type": "move", "peer": party.peer_id, "subroom": "甲方"})
    await party.expect("moved")
    party.ws._response.connection.transport.abort()  # the network drops, no close handshake
    upd = await host.expect("peer-updated", timeout=5)
    while upd["peer"]["connected"]:
        upd = await host.expect("peer-updated", timeout=5)
    assert upd["peer"]["id"] == party.peer_id
    again = await join(client, party.token, resume=party.welcome["resume"])  # type: ignore[attr-defined]
    w = again.welcome
    assert w["resumed"] is True and w["peer_id"] == party.peer_id and w["resume"] != party.welcome["resume"]
    me_there = [p for p in w["peers"] if p["id"] == host.peer_id]
    assert me_there and again.welcome["room"]["subrooms"] == ["甲方"]
    upd = await host.expect("peer-updated")
    assert upd["peer"]["connected"] is True and upd["peer"]["epoch"] == 1 and upd["peer"]["subroom"] == "甲方"
    # The old resume token is spent: it no longer names the place (the identity still does).
    assert services(client.server.app).room_hub.rooms[sid].room.peers[party.peer_id].epoch == 1


async def test_second_tab_replaces_first(client) -> None:
    sid, h, host, party = await room_with_party(client)
    tab2 = await join(client, party.token)  # type: ignore[attr-defined]
    assert tab2.peer_id == party.peer_id
    assert await party.closed() == 4409


async def test_drop_expires_after_grace(client) -> None:
    hub = services(client.server.app).room_hub
    hub.grace_s = 0.5
    sid, h, host, party = await room_with_party(client)
    hub.rooms[sid].room.grace_s = 0.5
    party.ws._response.connection.transport.abort()
    left = await host.expect("peer-left", timeout=6)
    assert left["reason"] == "timeout"


async def test_heartbeat_detects_dead_socket(client) -> None:
    services(client.server.app).signaling.heartbeat_s = 0.4
    sid, h = await make_session(client)
    host = await join(client, await staff_token(client, h, sid))
    inv = await invite(client, h, sid, "外聘调解员", role="mediator")
    ws = await client.ws_connect("/ws", autoping=False)  # a client that never answers pings
    m = Peer(ws)
    await m.send({"type": "join", "token": inv["token"]})
    # Read nothing: pings go unanswered, the server gives up on the socket.
    joined = await host.expect("peer-joined")
    upd = await host.expect("peer-updated", timeout=6)
    assert upd["peer"]["id"] == joined["peer"]["id"] and upd["peer"]["connected"] is False


async def test_recording_switch_and_consent(client) -> None:
    sid, h, host, party = await room_with_party(client)
    await host.send({"type": "recording", "on": True})
    assert (await party.expect("room"))["room"]["recording"] is True
    await party.send({"type": "consent", "recording": False})
    upd = await host.expect("peer-updated")
    assert upd["peer"]["consent"] is False
    await party.send({"type": "recording", "on": False})
    assert (await party.expect("error"))["code"] == "forbidden"


async def test_media_state_reported(client) -> None:
    sid, h, host, party = await room_with_party(client)
    await party.send({"type": "media", "audio": False})
    upd = await host.expect("peer-updated")
    assert upd["peer"]["audio"] is False and upd["peer"]["video"] is True


# ---- floods and spam ---------------------------------------------------------------------------------


async def test_message_spam_is_rate_limited_then_closed(client) -> None:
    st = services(client.server.app).signaling
    st.msg_rate, st.msg_burst = 5.0, 10.0
    sid, h, host, party = await room_with_party(client)
    for _ in range(40):
        await party.send({"type": "ping"})
    codes = []
    while True:
        m = await party._next(5)
        if m is None:
            break
        if m["type"] == "error":
            codes.append(m["code"])
    assert "rate_limited" in codes and codes[-1] == "abuse"
    assert party.closed_code == 4429


async def test_repeated_bad_messages_close(client) -> None:
    sid, h, host, party = await room_with_party(client)
    for _ in range(25):
        await party.send("garbage")
    assert await party.closed() == 4429
    assert party.inbox[-1]["code"] == "abuse"


async def test_join_flood_is_rate_limited(client) -> None:
    services(client.server.app).signaling.join_limit = 5
    services(client.server.app).ws_join_limiter.limit = 5
    sid, h = await make_session(client)
    token = await staff_token(client, h, sid)
    codes = []
    for _ in range(8):
        p = await connect(client, token)
        m = await p._next(5)
        codes.append(m["type"] if m["type"] != "error" else m["code"])
        await p.ws.close()
    assert codes[:5] == ["welcome"] * 5 and codes[5:] == ["rate_limited"] * 3


async def test_many_bad_connections_do_not_crash(client) -> None:
    sid, h = await make_session(client)
    good = await join(client, await staff_token(client, h, sid))
    junk = [b"\xff\xfe", "{", json.dumps({"type": "join"}), json.dumps({"type": "join", "token": None}),
            json.dumps({"type": "join", "token": "a.b", "resume": 5}), json.dumps({"type": "join", "token": "x" * 5000})]
    for raw in junk:
        ws = await client.ws_connect("/ws")
        if isinstance(raw, bytes):
            await ws.send_bytes(raw)
        else:
            await ws.send_str(raw)
        p = Peer(ws)
        assert (await p.expect("error"))["code"]
        await p.closed()
    await asyncio.sleep(0)
    await still_open(good)
    assert (await client.get("/healthz")).status == 200


async def test_ice_servers_with_turn_credentials(aiohttp_client, config) -> None:
    import base64
    import hashlib
    import hmac

    from server.app import create_app
    from server.directory.demo import seed

    config.ice_servers = [{"urls": "stun:stun.example.org:3478"}, {"urls": ["turn:turn.example.org:3478"]}]
    config.turn_secret = "coturn-shared-secret"
    app = create_app(config)
    c = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)
    sid, h = await make_session(c)
    p = await join(c, await staff_token(c, h, sid))
    stun, turn = p.welcome["ice_servers"]
    assert stun == {"urls": "stun:stun.example.org:3478"}
    expiry, peer = turn["username"].split(":")
    assert peer == p.peer_id and int(expiry) > 0
    mac = hmac.new(b"coturn-shared-secret", turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(mac).decode()


async def test_shuttle_session_keeps_parties_apart(client) -> None:
    """A DV case's session (settings from the cases feature) seats each party alone; the override lifts it."""
    from sqlalchemy import update

    from server.sessions.models import Session

    sid, h = await make_session(client)
    db = services(client.server.app).db
    async with db.session() as s:
        await s.execute(update(Session).where(Session.id == sid).values(settings={"shuttle": True,
                                                                                 "joint_override": None}))
    host = await join(client, await staff_token(client, h, sid))
    assert host.welcome["room"]["shuttle"] is True
    parties = []
    for name in ("张三", "李四"):
        inv = await invite(client, h, sid, name)
        p = await join(client, inv["token"], expect="lobby")
        knock = await host.expect("knock")
        await host.send({"type": "admit", "peer": knock["peer"]["id"]})
        p.welcome = await p.expect("welcome")
        p.peer_id = p.welcome["peer_id"]
        assert p.welcome["subroom"] == name
        parties.append(p)
    await host.send({"type": "move", "peer": parties[1].peer_id, "subroom": "张三"})
    assert (await host.expect("error"))["code"] == "shuttle"
    await parties[0].send({"type": "signal", "to": parties[1].peer_id, "data": {"candidate": {}}})
    assert (await parties[0].expect("error"))["code"] == "other_subroom"
    # The joint override (ledgered by the cases feature) reaches the room.
    async with db.session() as s:
        await s.execute(update(Session).where(Session.id == sid).values(
            settings={"shuttle": True, "joint_override": {"by": 1, "reason": "双方同意"}}))
    from server.sessions.service import room_meta

    async with db.session() as s:
        sess = await s.get(Session, sid)
        await services(client.server.app).room_hub.update_settings(room_meta(sess))
    assert (await host.expect("room", where=lambda m: m["room"]["shuttle"] is False))
    await host.send({"type": "move", "peer": parties[1].peer_id, "subroom": "张三"})
    assert (await parties[1].expect("moved"))["peers"] == [parties[0].peer_id]
