"""A mediation that grows past the mesh limit moves to the SFU in place, and everyone keeps video.

Real aiortc peers through /ws: three people on the mesh, then three more; when the fifth is admitted
(5 > CONCORD_MESH_LIMIT = 4) the room moves to Janus. Nobody rejoins: peer ids stay, each client closes
its mesh links and renegotiates on the SFU, and every one receives video from every other afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest

from server.services import services
from tests.media.synthetic import SyntheticVideo
from tests.sfu.test_sfu_rooms import Briefing, config, db_url, receives  # noqa: F401  (fixtures)
from tests.support.sfu_client import SfuRoomClient

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(300)]


async def test_mediation_grows_from_3_to_6_and_moves_in_place(client: Any) -> None:
    # Six aiortc clients decode 30 videos on a small shared machine: small, slow video and no audio.
    b = Briefing(client, tracks=lambda: [SyntheticVideo(96, 64, 8)])
    await b.setup(kind="mediation")
    try:
        host = await b.host()
        assert host.topology == "mesh"
        people: list[SfuRoomClient] = [host]

        async def add(name: str) -> SfuRoomClient:
            c = b.person((await b_invite(name))["token"])
            first = await c.connect()
            if first["type"] == "lobby":
                knock = await host.wait_message("knock", where=lambda m: m["peer"]["name"] == name)
                await host.send({"type": "admit", "peer": knock["peer"]["id"]})
            await c.wait(lambda: c.peer_id is not None)
            people.append(c)
            return c

        async def b_invite(name: str) -> dict:
            from tests.support.rooms import invite

            return await invite(client, b.h, b.sid, name)

        for name in ("张三", "李四"):
            await add(name)
        for x in people:
            for y in people:
                if x is not y:
                    await receives(x, y.peer_id, "video", 5)
        assert all(x.topology == "mesh" and x.pub is None for x in people)
        ids = [x.peer_id for x in people]
        await add("王五")  # 4 people: still a mesh
        assert host.topology == "mesh" and not b.ledger("topology")
        await add("赵六")  # 5 > 4: the room moves
        await add("钱七")
        await host.wait(lambda: all(x.topology == "sfu" for x in people), 30)
        assert [x.peer_id for x in people[:3]] == ids  # nobody rejoined
        for x in people:
            await x.wait(lambda x=x: x.published.is_set() and not x.links, 30)
        for x in people:
            for y in people:
                if x is not y:
                    await receives(x, y.peer_id, "video", 5, timeout=60)
        moves = b.ledger("topology")
        assert len(moves) == 1
        assert moves[0]["cause"] == "size" and moves[0]["n"] == 5 and moves[0]["limit"] == 4
        assert moves[0]["from"] == "mesh" and moves[0]["to"] == "sfu" and moves[0]["peers"] == 5
        settled = b.ledger("topology_settled")
        assert len(settled) == 1 and settled[0]["switch"] == moves[0]["switch"]
        assert 0 < settled[0]["duration_ms"] < 30_000
        print(f"move in place: 6 people renegotiated in {settled[0]['duration_ms']} ms")
        room = services(client.server.app).room_hub.rooms[b.sid].room
        assert room.topology == "sfu" and len(room.admitted()) == 6
    finally:
        await b.close()
