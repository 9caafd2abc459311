"""A room spanning two Janus instances, through Concord's /ws with real aiortc peers: the per-instance
capacity (CONCORD_SFU_INSTANCE_PEERS) is 2, so a dispatch briefing's host and first centre are on the home
instance A and the next centres on B. The host's feed is cascaded A → B, the centres' feeds on B are
cascaded B → A for the host; the floor and mute are enforced on the feed's own instance, and removal kicks
the person's handle on B."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.config import Config
from server.services import services
from server.sfu import plan
from server.sfu.bridge import SfuBridge
from server.sfu.cluster import instance_id
from server.sfu.process import JanusProcess
from tests.sfu.conftest import JanusTarget
from tests.sfu.instances import config as janus_config
from tests.sfu.instances import launch
from tests.sfu.test_sfu_rooms import Briefing, hears, quiet, receives, sfu_config, silent, until

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"


@pytest.fixture
async def instances(tmp_path: Path) -> AsyncIterator[list[tuple[JanusProcess, JanusTarget]]]:
    made: list[tuple[JanusProcess, JanusTarget]] = []
    try:
        for name in ("a", "b"):
            made.append(await launch(tmp_path / f"janus-{name}", janus_config(made[0][1] if made else None)))
        yield made
    finally:
        for proc, _ in made:
            await proc.stop()


@pytest.fixture
def config(db_url: str, tmp_path: Path, instances: list[tuple[JanusProcess, JanusTarget]]) -> Config:
    (_, a), (_, b) = instances
    c = sfu_config(db_url, tmp_path, a)
    return Config(**{**c.__dict__, "janus_urls": (a.ws_url, b.ws_url), "sfu_instance_peers": 2})


async def in_room(bridge: SfuBridge, sid: int, instance: str, peer: str | None) -> bool:
    rm = bridge.rooms[sid]
    inst = rm.instance if instance == rm.instance.id else rm.edges[instance]
    assert inst.control is not None and peer is not None
    return plan.janus_participant_id(peer) in {p["id"] for p in await inst.control.list_participants(rm.janus_room)}


async def test_a_briefing_spans_two_instances(client: Any) -> None:
    b = Briefing(client)
    await b.setup()
    try:
        host = await b.host()
        c1 = await b.centre(host, "龙亢镇综治中心")
        c2 = await b.centre(host, "河溜镇综治中心")
        c3 = await b.centre(host, "县调解中心", role="mediator")  # a moderator: takes every centre's feed
        bridge = services(client.server.app).sfu
        assert bridge is not None
        rm = bridge.rooms[b.sid]
        home = rm.instance.id
        where = {c.peer_id: rm.peers[c.peer_id or ""].instance for c in (host, c1, c2, c3)}
        assert where[host.peer_id] is rm.instance and where[c1.peer_id] is rm.instance
        edge = where[c2.peer_id]
        assert edge is not None and edge.id != home and where[c3.peer_id] is edge
        assert set(rm.edges) == {edge.id}
        # Every centre receives the host's video, natively on A or cascaded to B.
        for c in (c1, c2, c3):
            await receives(c, host.peer_id)
        # The host receives the centres on B (cascaded B -> A); the moderator on B receives c1 (A -> B).
        await receives(host, c2.peer_id)
        await receives(host, c3.peer_id)
        await receives(c3, c1.peer_id)
        assert (host.peer_id, edge.id) in rm.links and (c2.peer_id, home) in rm.links
        assert (c2.peer_id, edge.id) not in rm.links  # native on B: nothing to forward
        # c2 on B gets the floor: its audio is forwarded natively on B and cascaded to A (c1 takes the
        # floor holder). The host keeps its microphone off, so any audio heard is c2's or c3's.
        await host.send({"type": "media", "audio": False})
        await c3.send({"type": "media", "audio": False})
        await host.send({"type": "floor", "peer": c2.peer_id})
        await until(lambda: (c2.peer_id, home) in rm.links)
        await hears(c1)
        await hears(host)
        await hears(c3)
        # The server mutes c2; its client ignores it and keeps sending: nobody on A or B hears it.
        await host.send({"type": "mute", "peer": c2.peer_id, "kind": "audio"})
        await c2.wait_message("muted")
        assert c2.pub is not None and all(s.track is not None and s.track.readyState == "live"
                                          for s in c2.pub.getSenders())
        assert await quiet(c1) == 0  # on A, through the cascade
        assert await quiet(host) == 0  # on A
        assert await quiet(c3) == 0  # on B, natively
        await receives(c1, c2.peer_id)  # only the audio is held back
        # Removing c2 (on B) kicks its handle on B and ends its cascaded copy on A.
        assert await in_room(bridge, b.sid, edge.id, c2.peer_id)
        await host.send({"type": "remove", "peer": c2.peer_id})
        await c2.wait(lambda: c2.close_code is not None)
        deadline = time.monotonic() + 10
        while await in_room(bridge, b.sid, edge.id, c2.peer_id) or await in_room(bridge, b.sid, home, c2.peer_id):
            assert time.monotonic() < deadline, "the removed centre is still in a Janus room"
            await asyncio.sleep(0.1)
        assert not any(k[0] == c2.peer_id for k in rm.links)
        assert await silent(host, c2.peer_id, "video") == 0
        await receives(c3, host.peer_id)  # the others go on
        await receives(host, c3.peer_id)
    finally:
        await b.close()


@pytest.mark.parametrize("lost", ["edge", "home"])
async def test_a_lost_instance_brings_everyone_onto_the_other(
        client: Any, instances: list[tuple[JanusProcess, JanusTarget]], lost: str) -> None:
    """kill -9 of the edge B: the room stays on its home A (a new Janus room, generation + 1) and the
    centres that were on B are placed again (on A, the only instance left). kill -9 of the home A: the
    room is re-homed on B (server.sfu.failover). Either way everyone receives again."""
    b = Briefing(client)
    await b.setup()
    try:
        host = await b.host()
        c1 = await b.centre(host, "龙亢镇综治中心")
        c2 = await b.centre(host, "河溜镇综治中心")
        bridge = services(client.server.app).sfu
        assert bridge is not None
        rm = bridge.rooms[b.sid]
        home = rm.instance.id
        edge = rm.peers[c2.peer_id or ""].instance
        assert edge is not None and edge.id != home
        await receives(c2, host.peer_id)
        dead, survivor = (edge.id, home) if lost == "edge" else (home, edge.id)
        proc = {instance_id(t.ws_url): p for p, t in instances}[dead]
        t0 = time.monotonic()
        proc.kill()
        await until(lambda: b.sid in bridge.rooms and bridge.rooms[b.sid].generation >= 1, timeout=30)
        await receives(c2, host.peer_id, n=20, timeout=60)
        back = time.monotonic() - t0
        rm = bridge.rooms[b.sid]
        room = services(client.server.app).room_hub.rooms[b.sid].room
        assert rm.instance.id == survivor and room.sfu_instance == survivor and not rm.edges
        assert all(pm.instance is rm.instance for pm in rm.peers.values())
        await receives(c1, host.peer_id)
        await receives(host, c2.peer_id)
        # Nothing is left of generation 0 on the survivor (handles, cascaded copies, the room itself).
        survivor_inst = rm.instance
        assert survivor_inst.control is not None
        old, key = plan.janus_room_id(b.sid), instances[0][1].admin_key
        deadline = time.monotonic() + 10
        while old in {r["room"] for r in await survivor_inst.control.list_rooms(admin_key=key)}:
            assert time.monotonic() < deadline, "generation 0's room is still on the survivor"
            await asyncio.sleep(0.1)
        assert plan.janus_room_id(b.sid, generation=1) in {
            r["room"] for r in await survivor_inst.control.list_rooms(admin_key=key)}
        print(f"\nlost {lost}: the centre that was on B receives the host again {back:.1f} s after kill -9")
    finally:
        await b.close()
