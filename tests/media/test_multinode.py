"""Two ``concord serve`` processes sharing PostgreSQL and Redis serve one room (docs/multinode.md).

A host on node 1 and parties on node 2 see each other, exchange media, move between sub-rooms, resume on
the *other* node after a drop, and survive node 2 being killed. Skips with a notice without PostgreSQL or
Redis (fails in CI, where both are required).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import PG_ADMIN_URL, need, pg_available
from tests.media.synthetic import SyntheticAudio, SyntheticVideo
from tests.media.test_room_mesh import media_both_ways
from tests.support.room_client import RoomClient
from tests.support.servers import (
    Api,
    create_pg_database,
    drop_pg_database,
    run_cli,
    server_env,
    start_node,
    wait_healthy,
)

RECORDER_GONE_S = 45  # node liveness expires after 10 s, then a sweep notices; generous for a busy machine

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def tracks() -> list:
    return [SyntheticVideo(160, 120, 15), SyntheticAudio()]


@pytest.fixture
async def two_nodes(tmp_path: Path, redis_url: str) -> AsyncIterator[tuple]:
    need("PostgreSQL", pg_available())
    url = await create_pg_database(PG_ADMIN_URL)
    env = server_env(CONCORD_DATABASE_URL=url, CONCORD_REDIS_URL=redis_url,
                     CONCORD_SECRET_KEY="multinode-test-secret-not-for-production",
                     CONCORD_REDIS_PREFIX=f"concord-test-{uuid.uuid4().hex[:8]}",
                     CONCORD_RECORDINGS_DIR=str(tmp_path / "recordings"), CONCORD_RECORDING_SEGMENT_S="2")
    d1, d2 = tmp_path / "node1", tmp_path / "node2"
    r = run_cli(["demo", "--data-dir", str(d1)], env)  # migrates and seeds once, before the nodes start
    assert r.returncode == 0, r.stderr
    nodes = [start_node(d1, env, name="node1"), start_node(d2, env, name="node2")]
    try:
        for n in nodes:
            health = await wait_healthy(n)
            assert health["bus"] == "redis" and health["database"] == "postgresql"
        yield nodes[0], nodes[1], env, d1
    finally:
        for n in nodes:
            n.stop()
        await drop_pg_database(PG_ADMIN_URL, url)


async def _session(api: Api, title: str) -> tuple[int, str, str]:
    """A mediation session: its id, the mediator's join token and 张三's invitation token."""
    sid = (await api.post("/api/sessions", {"kind": "mediation", "title": title, "unit": "340321001"}, 201))["id"]
    host_token = (await api.post(f"/api/sessions/{sid}/join-token"))["token"]
    a_token = (await api.post(f"/api/sessions/{sid}/invitations", {"name": "张三"}, 201))["token"]
    return sid, host_token, a_token


async def _host_on_node1_admits_party_on_node2(n1, n2, host_token: str, a_token: str,  # type: ignore[no-untyped-def]
                                               people: list[RoomClient]) -> tuple[RoomClient, RoomClient]:
    host = RoomClient(n1.base, host_token, tracks=tracks)
    a = RoomClient(n2.base, a_token, tracks=tracks)
    people += [host, a]
    assert (await host.connect())["type"] == "welcome"
    assert (await a.connect())["type"] == "lobby"  # the lobby on node 2, the moderator on node 1
    knock = await host.wait_message("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    await a.wait(lambda: a.peer_id is not None)
    return host, a


async def test_two_nodes_share_one_room(two_nodes) -> None:
    n1, n2, env, d1 = two_nodes
    people: list[RoomClient] = []
    async with aiohttp.ClientSession() as s:
        api = await Api(n1.base, s).login("mediator")
        sid, host_token, a_token = await _session(api, "跨节点调解")
        b_token = (await api.post(f"/api/sessions/{sid}/invitations", {"name": "李四"}, 201))["token"]
        try:
            host, a = await _host_on_node1_admits_party_on_node2(n1, n2, host_token, a_token, people)
            await media_both_ways(host, a, timeout=60)

            # Sub-rooms across nodes: the party alone, then the mediator with them.
            await host.send({"type": "move", "peer": a.peer_id, "subroom": "甲方"})
            await a.wait(lambda: a.subroom == "甲方" and not a.links)
            await host.wait(lambda: a.peer_id not in host.links)
            await host.send({"type": "move", "peer": host.peer_id, "subroom": "甲方"})
            await media_both_ways(host, a, timeout=60)

            # A drop on node 2, a resume on node 1: same place, fresh connections.
            pid = a.peer_id
            a.kill()
            await host.wait(lambda: host.peers.get(pid, {}).get("connected") is False, 15)
            a.url = n1.base + "/ws"
            w = await a.reconnect()
            assert w["type"] == "welcome" and w["resumed"] and w["peer_id"] == pid and w["subroom"] == "甲方"
            await media_both_ways(host, a, timeout=60)

            # Node 2 dies with a party on it; node 1 releases the place and the party resumes there.
            await host.send({"type": "move", "peer": host.peer_id, "subroom": None})
            b = RoomClient(n2.base, b_token, tracks=tracks)
            people.append(b)
            assert (await b.connect())["type"] == "lobby"
            knock = await host.wait_message("knock")
            await host.send({"type": "admit", "peer": knock["peer"]["id"]})
            await b.wait(lambda: b.peer_id is not None)
            await host.wait(lambda: host.subroom is None)
            await media_both_ways(host, b, timeout=60)
            n2.stop(signal.SIGKILL)
            bid = b.peer_id
            await host.wait(lambda: host.peers.get(bid, {}).get("connected") is False, 30)
            b.url = n1.base + "/ws"
            w = await b.reconnect()
            assert w["type"] == "welcome" and w["peer_id"] == bid
            await media_both_ways(host, b, timeout=60)

            await host.send({"type": "end"})  # everybody leaving would keep it open: the host ends it
            for p in (a, b, host):
                await p.leave()
        finally:
            for p in people:
                await p.close()
        # The room ended for everybody; the ledger written by both nodes verifies.
        for _ in range(50):
            state = (await api.get(f"/api/sessions/{sid}"))["state"]
            if state == "ended":
                break
            await asyncio.sleep(0.2)
        assert state == "ended"
        log = (await api.get(f"/api/sessions/{sid}/log"))["events"]
        types = [e["type"] for e in log]
        assert types.count("peer_joined") >= 1 and types.count("admitted") == 2 and "peer_resumed" in types
        assert types[-1] == "session_ended"
    r = run_cli(["verify-log", "--session", str(sid), "--data-dir", str(d1)], env)
    assert r.returncode == 0 and r.stdout.startswith("OK"), r.stdout + r.stderr


async def _closed_segments(api: Api, sid: int) -> list[dict]:
    recs = (await api.get(f"/api/sessions/{sid}/recordings"))["recordings"]
    return [r for r in recs if r.get("status") == "closed" and r.get("segment") is not None]


async def _until(check, timeout: float):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await check()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.5)


async def test_recording_moves_to_a_surviving_node(two_nodes) -> None:
    """The node holding the recorder is killed: the other node records from then on, and the dead node's
    restart does not call the session (which carried on) interrupted."""
    n1, n2, env, d1 = two_nodes
    people: list[RoomClient] = []
    async with aiohttp.ClientSession() as s:
        api1 = await Api(n1.base, s).login("mediator")
        sid, host_token, a_token = await _session(api1, "录像接续")
        api2 = await Api(n2.base, s).login("mediator")
        try:
            # The host is on node 1, so node 1 takes the recording switch and holds the recorder.
            host, a = await _host_on_node1_admits_party_on_node2(n1, n2, host_token, a_token, people)
            await host.send({"type": "recording", "on": True})
            await a.wait(lambda: bool(a.room.get("recording")))
            await a.set_consent(True)
            first = (await a.wait_message("peer-joined", 30, where=lambda m: m["peer"].get("system")))["peer"]["id"]
            await a.wait(lambda: first in a.links, 30)
            await _until(lambda: _closed_segments(api2, sid), 60)

            killed = time.monotonic()
            n1.stop(signal.SIGKILL)  # the recorder's node, with the host's socket
            second = (await a.wait_message("peer-joined", RECORDER_GONE_S,
                                           where=lambda m: m["peer"].get("system") and m["peer"]["id"] != first))
            print(f"recorder replaced {time.monotonic() - killed:.1f} s after its node was killed")
            assert second["peer"]["role"] == "recorder" and first not in a.peers
            await a.wait(lambda: second["peer"]["id"] in a.links, 30)
            before = {r["id"] for r in await _closed_segments(api2, sid)}

            async def new_segments() -> list[dict]:
                return [r for r in await _closed_segments(api2, sid) if r["id"] not in before]
            await _until(new_segments, 60)  # the surviving node writes segments of its own

            log = [e["type"] for e in (await api2.get(f"/api/sessions/{sid}/log"))["events"]]
            assert "recorder_lost" in log and "recording_interrupted" in log
            assert "session_interrupted" not in log

            # Node 1 comes back (same port, same node name): its recovery leaves the live session alone.
            n1b = start_node(d1, env, port=n1.port, name="node1-again")
            try:
                await wait_healthy(n1b)
                state = (await api2.get(f"/api/sessions/{sid}"))["state"]
                assert state == "live", state
                await host.close()
                await a.leave()
            finally:
                n1b.stop()
        finally:
            for p in people:
                await p.close()
    r = run_cli(["verify-log", "--session", str(sid), "--data-dir", str(d1)], env)
    assert r.returncode == 0 and r.stdout.startswith("OK"), r.stdout + r.stderr
