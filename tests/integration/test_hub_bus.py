"""RoomHub over LocalBus and RedisBus: replicas, node mail, late replay, liveness, system-peer hooks."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from server.rooms.bus import LocalBus, RedisBus
from server.rooms.connection import Connection
from server.rooms.hub import JoinRefused, RoomEvent, RoomHub
from server.sessions.service import JoinGrant, RoomMeta

META = RoomMeta(session_id=5, kind="mediation", title="测试", key="5:1")


class Inbox(Connection):
    """A connection endpoint that keeps what the hub delivers to it (stands in for the socket only)."""

    kind = "inbox"

    def __init__(self) -> None:
        super().__init__()
        self.got: list[dict[str, Any]] = []
        self.closed_with: tuple[int, str] | None = None

    def send(self, msg: dict[str, Any], text: str | None = None) -> None:
        self._first(msg)
        self.got.append(msg)

    def close(self, code: int, reason: str) -> None:
        self.closed = True
        self.closed_with = (code, reason)

    def types(self) -> list[str]:
        return [m["type"] for m in self.got]

    async def wait(self, type_: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for m in self.got:
                if m["type"] == type_:
                    self.got.remove(m)
                    return m
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {type_}; got {self.got}")


def grant(role: str, name: str, direct: bool = True, meta: RoomMeta = META) -> JoinGrant:
    return JoinGrant(meta=meta, role=role, name=name, identity=f"test:{name}", direct=direct, check_method="none",
                     check_hash=None, nonce=None, staff_id=None)


async def joined(hub: RoomHub, role: str, name: str, meta: RoomMeta = META) -> Inbox:
    c = Inbox()
    await hub.join(c, grant(role, name, meta=meta), None)
    first = await asyncio.wait_for(asyncio.shield(c.answered), 5)
    assert first["type"] == "welcome", first
    return c


# ---- one node (LocalBus) -------------------------------------------------------------------------


async def test_local_hub_signal_leave_and_listeners() -> None:
    hub = RoomHub(LocalBus("n1"))
    events: list[RoomEvent] = []
    hub.add_listener(events.append)
    await hub.start()
    try:
        host = await joined(hub, "host", "调解员")
        party = await joined(hub, "party", "张三")  # direct here: the grant says so
        assert (await host.wait("peer-joined"))["peer"]["id"] == party.peer_id
        assert await hub.handle(party, {"type": "signal", "to": host.peer_id, "data": {"candidate": {}}}) is None
        assert (await host.wait("signal")) == {"type": "signal", "from": party.peer_id, "data": {"candidate": {}}}
        assert await hub.handle(party, {"type": "admit", "peer": host.peer_id}) == "forbidden"
        assert await hub.handle(party, {"type": "signal", "to": "ghost", "data": {}}) == "unknown_peer"
        await hub.handle(party, {"type": "leave"})
        assert party.closed_with == (1000, "left")
        await hub.disconnect(party)  # a leave is not a drop
        assert (await host.wait("peer-left"))["reason"] == "left"
        assert [e.type for e in events][:3] == ["peer_joined", "session_live", "peer_joined"]
        assert events[-1].type == "peer_left" and events[-1].session_id == 5
        assert hub.snapshot(5)["peers"][0]["name"] == "调解员"
    finally:
        await hub.close()


class Recorder:
    """A system peer: keeps what it is told (the recorder engineer's real peer does the media)."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.closed_with: tuple[int, str] | None = None

    def deliver(self, message: dict[str, Any]) -> None:
        self.got.append(message)

    def closed(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


async def test_system_peer_hooks() -> None:
    hub = RoomHub(LocalBus("n1"))
    await hub.start()
    calls: list[tuple[int, bool, tuple[str, ...]]] = []
    rec = Recorder()
    seated: list[str] = []

    async def on_recording(sid: int, on: bool, subrooms: tuple[str, ...]) -> None:
        calls.append((sid, on, subrooms))
        if on:
            seated.append(await hub.attach_system_peer(sid, rec))

    hub.on_recording(on_recording)
    try:
        host = await joined(hub, "host", "调解员")
        party = await joined(hub, "party", "张三")
        with pytest.raises(JoinRefused) as e:
            await hub.attach_system_peer(5, Recorder())
        assert e.value.code == "not_recording"
        with pytest.raises(JoinRefused):
            await hub.attach_system_peer(99, Recorder())
        await hub.handle(host, {"type": "recording", "on": True, "subrooms": ["甲"]})
        for _ in range(100):
            if seated:
                break
            await asyncio.sleep(0.01)
        assert calls == [(5, True, ("甲",))]
        rid = seated[0]
        assert rec.got[0]["type"] == "welcome" and rec.got[0]["role"] == "recorder"
        joined_msg = await party.wait("peer-joined")
        assert joined_msg["peer"]["role"] == "recorder" and joined_msg["peer"]["system"] is True
        # Only consenting people may offer to the recorder; it answers through system_send.
        assert await hub.handle(party, {"type": "signal", "to": rid, "data": {"description": {}}}) == "no_consent"
        await hub.handle(party, {"type": "consent", "recording": True})
        assert await hub.handle(party, {"type": "signal", "to": rid, "data": {"description": {"type": "offer"}}}) is None
        assert rec.got[-1]["type"] == "signal" and rec.got[-1]["from"] == party.peer_id
        assert await hub.system_send(5, rid, {"type": "signal", "to": party.peer_id,
                                              "data": {"description": {"type": "answer"}}}) is None
        assert (await party.wait("signal"))["from"] == rid
        assert await hub.system_send(5, rid, {"type": "chat", "text": "hi"}) == "forbidden"
        assert await hub.system_send(5, rid, {"type": "bogus"}) == "unknown_type"
        assert await hub.system_send(5, rid, {"type": "signal", "to": host.peer_id, "data": {}}) == "no_consent"
        await hub.handle(host, {"type": "recording", "on": False})
        assert rec.closed_with == (1000, "recording off")
        for _ in range(100):
            if len(calls) == 2:
                break
            await asyncio.sleep(0.01)
        assert calls[-1] == (5, False, ())  # the hook runs as a task on the node that took the switch
        assert (await party.wait("peer-left")) == {"type": "peer-left", "peer_id": rid, "reason": "recording_off"}
        await hub.detach_system_peer(5, rid)  # already gone: harmless
    finally:
        await hub.close()


# ---- two nodes (RedisBus) ------------------------------------------------------------------------


@pytest.fixture
def prefix(redis_url: str) -> str:
    return f"concord-test-{uuid.uuid4().hex[:8]}"


@pytest.mark.redis
async def test_redis_bus_log_order_replay_mail_and_liveness(redis_url: str, prefix: str) -> None:
    a, b = RedisBus(redis_url, "na", prefix), RedisBus(redis_url, "nb", prefix)
    mail: list[dict] = []
    await a.start(lambda m: None)
    await b.start(mail.append)
    try:
        seen_a: list[int] = []
        await a.open_log("r1", lambda pos, cmd: seen_a.append(cmd["i"]))
        for i in range(5):
            await a.append("r1", {"i": i})
        late: list[int] = []
        await b.open_log("r1", lambda pos, cmd: late.append(cmd["i"]))  # replays what came before
        await b.append("r1", {"i": 5})
        for _ in range(200):
            if len(seen_a) == 6 and len(late) == 6:
                break
            await asyncio.sleep(0.01)
        assert seen_a == late == [0, 1, 2, 3, 4, 5]
        a.send("nb", {"k": "x", "n": 1})
        for _ in range(200):
            if mail:
                break
            await asyncio.sleep(0.01)
        assert mail == [{"k": "x", "n": 1}]
        assert await a.alive({"na", "nb", "ghost"}) == {"na", "nb"}
        await b.close_log("r1")
        await a.retire_log("r1", 1)
    finally:
        await b.close()
        assert await a.alive({"nb"}) == set()  # a closed node deletes its liveness key
        await a.close()


@pytest.mark.redis
async def test_two_hubs_share_a_room_over_redis(redis_url: str, prefix: str) -> None:
    meta = RoomMeta(session_id=7, kind="mediation", title="跨节点", key=f"7:{uuid.uuid4().hex}")
    h1 = RoomHub(RedisBus(redis_url, "node-1", prefix))
    h2 = RoomHub(RedisBus(redis_url, "node-2", prefix))
    await h1.start()
    await h2.start()
    try:
        host = await joined(h1, "host", "调解员", meta)
        c = Inbox()
        await h2.join(c, grant("party", "张三", direct=False, meta=meta), None)
        assert (await asyncio.wait_for(asyncio.shield(c.answered), 5))["type"] == "lobby"
        knock = await host.wait("knock")  # crossed nodes through the log
        await h1.handle(host, {"type": "admit", "peer": knock["peer"]["id"]})
        w = await c.wait("welcome")
        assert [p["id"] for p in w["peers"]] == [host.peer_id]
        await host.wait("peer-joined")
        # A signal crosses nodes by node mail.
        assert await h2.handle(c, {"type": "signal", "to": host.peer_id, "data": {"description": {"t": 1}}}) is None
        assert (await host.wait("signal"))["data"] == {"description": {"t": 1}}
        # A signal tagged with a log position node 1 has not reached yet waits for it.
        r1 = h1.rooms[7]
        ahead = [r1.pos[0], r1.pos[1] + 1]
        h1._on_mail({"k": "signal", "sid": 7, "from": c.peer_id, "to": host.peer_id, "data": {"n": 2}, "pos": ahead})
        assert h1.deferred == 1 and not [m for m in host.got if m["type"] == "signal"]
        await h2.handle(c, {"type": "hand", "raised": True})  # any command moves the log on
        assert (await host.wait("signal"))["data"] == {"n": 2}
        # The party's node drops it; node 1 sees the place kept.
        await h2.disconnect(c)
        upd = await host.wait("peer-updated")
        while upd["peer"]["connected"]:
            upd = await host.wait("peer-updated")
        assert upd["peer"]["id"] == c.peer_id
        assert h1.rooms[7].room.peers[c.peer_id].connected is False
        assert h2.rooms[7].room.room_json() == h1.rooms[7].room.room_json()
    finally:
        await h1.close()
        await h2.close()


async def test_sweeper_expires_drops_and_forgets_ended_rooms() -> None:
    now = [1000.0]
    hub = RoomHub(LocalBus("n1"), clock=lambda: now[0], grace_s=60, idle_end_s=600)
    await hub.start()
    try:
        host = await joined(hub, "host", "调解员")
        party = await joined(hub, "party", "张三")
        await hub.disconnect(party)  # dropped, place kept
        now[0] += 30
        await hub.sweep()
        assert party.peer_id in hub.rooms[5].room.peers
        now[0] += 31
        await hub.sweep()
        assert party.peer_id not in hub.rooms[5].room.peers
        assert (await host.wait("peer-left"))["reason"] == "timeout"
        await hub.handle(host, {"type": "leave"})
        await hub.disconnect(host)
        room = hub.rooms[5].room
        # Everybody gone: the session stays open (and the room held) until the idle timeout.
        now[0] += hub.IDLE_CLOSE_S + 1
        await hub.sweep()
        assert not room.ended and hub.rooms[5].room is room
        now[0] += 600
        await hub.sweep()
        await asyncio.sleep(0.05)
        assert room.ended
        await hub.sweep()
        assert 5 in hub.rooms  # remembered a while, so late joins hear "session_ended"
        now[0] += hub.TOMBSTONE_S + 1
        await hub.sweep()
        assert 5 not in hub.rooms
    finally:
        await hub.close()


@pytest.mark.redis
async def test_redis_bus_follows_hundreds_of_rooms_with_few_connections(redis_url: str, prefix: str) -> None:
    """One reader follows every room (a connection per room exhausted the pool at ~100 rooms)."""
    a, b = RedisBus(redis_url, "na", prefix), RedisBus(redis_url, "nb", prefix)
    await a.start(lambda m: None)
    await b.start(lambda m: None)
    try:
        seen: dict[str, list[int]] = {}
        rooms = [f"r{i}" for i in range(300)]
        for r in rooms:
            await a.open_log(r, lambda pos, cmd, r=r: seen.setdefault(r, []).append(cmd["i"]))
        await asyncio.gather(*(b.append(r, {"i": i}) for i in range(2) for r in rooms))
        for _ in range(500):
            if all(len(seen.get(r, [])) == 2 for r in rooms):
                break
            await asyncio.sleep(0.01)
        assert all(sorted(seen[r]) == [0, 1] for r in rooms)
        pool = a.redis.connection_pool
        held = len(list(pool._get_free_connections())) + len(list(pool._get_in_use_connections()))  # noqa: SLF001
        assert held <= 8, held  # the reader, the mail subscriber, and a few for commands: not one per room
    finally:
        await a.close()
        await b.close()


@pytest.mark.redis
async def test_redis_bus_close_never_hangs_on_a_blocked_read(redis_url: str, prefix: str) -> None:
    """redis-py can swallow a cancel inside a blocking XREAD; close() must still end (it hung 1 in 6)."""
    for n in range(30):
        bus = RedisBus(redis_url, f"n{n}", prefix)
        await bus.start(lambda m: None)
        for r in range(20):
            await bus.open_log(f"r{r}", lambda pos, cmd: None)
        await asyncio.sleep(0.01 * (n % 5))  # land the cancel at different points of the read
        await asyncio.wait_for(bus.close(), 10)
        assert not bus._tasks  # noqa: SLF001
