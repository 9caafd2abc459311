"""Real aiortc peers through the real server on loopback: lobby, media both ways, sub-rooms, removal, resume.

No WebRTC mocks: each participant is an aiortc RTCPeerConnection mesh (tests.support.room_client.RoomClient)
sending synthetic video and audio; frames are counted after decoding. Signaling goes through /ws.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.media.synthetic import SyntheticAudio, SyntheticVideo
from tests.support.room_client import RoomClient
from tests.support.rooms import invite, make_session, staff_token

pytestmark = [pytest.mark.media, pytest.mark.slow]

FRAMES = 10  # decoded frames that prove a direction works


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Media tests run on SQLite only: the database is not what they test, and CPU is scarce."""
    return f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"


def tracks() -> list:
    return [SyntheticVideo(160, 120, 15), SyntheticAudio()]


@pytest.fixture
async def people(client) -> AsyncIterator[dict]:
    """A session with a host (the township mediator) and invitation tokens for two parties."""
    sid, h = await make_session(client)
    base = str(client.make_url("/")).rstrip("/")
    made: list[RoomClient] = []

    def person(token: str) -> RoomClient:
        c = RoomClient(base, token, tracks=tracks)
        made.append(c)
        return c

    out = {
        "sid": sid, "h": h, "client": client, "person": person,
        "host_token": await staff_token(client, h, sid),
        "a_token": (await invite(client, h, sid, "张三"))["token"],
        "b_token": (await invite(client, h, sid, "李四"))["token"],
    }
    yield out
    for c in made:
        await c.close()


async def admit(host: RoomClient, party: RoomClient, token_first: dict) -> None:
    assert token_first["type"] == "lobby"
    knock = await host.wait_message("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    await party.wait(lambda: party.peer_id is not None)


async def media_both_ways(x: RoomClient, y: RoomClient, frames: int = FRAMES, timeout: float = 60.0) -> None:
    await x.wait(lambda: x.frames_from(y.peer_id, "video") >= frames and x.frames_from(y.peer_id, "audio") >= frames,
                 timeout)
    await y.wait(lambda: y.frames_from(x.peer_id, "video") >= frames and y.frames_from(x.peer_id, "audio") >= frames,
                 timeout)


async def test_lobby_admission_and_media_both_ways(people) -> None:
    host = people["person"](people["host_token"])
    w = await host.connect()
    assert w["type"] == "welcome" and w["role"] == "host"
    a = people["person"](people["a_token"])
    first = await a.connect()
    await admit(host, a, first)
    await media_both_ways(host, a)
    assert host.links[a.peer_id].pc.connectionState == "connected"


async def test_subroom_move_ends_old_connections_and_forms_new(people) -> None:
    host = people["person"](people["host_token"])
    await host.connect()
    a = people["person"](people["a_token"])
    await admit(host, a, await a.connect())
    b = people["person"](people["b_token"])
    await admit(host, b, await b.connect())
    await media_both_ways(host, a)
    await media_both_ways(host, b)
    await media_both_ways(a, b)
    old_ab = a.links[b.peer_id]
    old_ha = host.links[a.peer_id]

    # 背靠背: party A goes to a private room alone; every connection of A ends.
    await host.send({"type": "move", "peer": a.peer_id, "subroom": "甲方调解室"})
    await a.wait(lambda: a.subroom == "甲方调解室" and not a.links)
    await host.wait(lambda: a.peer_id not in host.links)
    await b.wait(lambda: a.peer_id not in b.links)
    assert old_ab.closed and old_ha.closed and old_ab.pc.connectionState == "closed"
    await media_both_ways(host, b)  # the main room carries on

    # The mediator joins A: a new connection forms between them, and the main room loses the mediator.
    await host.send({"type": "move", "peer": host.peer_id, "subroom": "甲方调解室"})
    await host.wait(lambda: host.subroom == "甲方调解室")
    await media_both_ways(host, a)
    assert host.links[a.peer_id] is not old_ha
    await b.wait(lambda: host.peer_id not in b.links)
    assert set(host.links) == {a.peer_id}

    # Back to the main room: all three connect again.
    await host.send({"type": "move", "peer": a.peer_id, "subroom": None})
    await host.send({"type": "move", "peer": host.peer_id, "subroom": None})
    await host.wait(lambda: host.subroom is None)
    await media_both_ways(a, b)
    await media_both_ways(host, a)
    await media_both_ways(host, b)


async def test_removal_ends_media(people) -> None:
    host = people["person"](people["host_token"])
    await host.connect()
    a = people["person"](people["a_token"])
    await admit(host, a, await a.connect())
    await media_both_ways(host, a)
    link = host.links[a.peer_id]
    await host.send({"type": "remove", "peer": a.peer_id})
    await a.wait(lambda: a.close_code is not None)
    assert a.close_code == 4403 and any(m["type"] == "removed" for m in a.messages)
    await host.wait(lambda: a.peer_id not in host.links)
    assert link.closed and not a.links
    await host.wait(lambda: link.pc.connectionState == "closed")
    again = people["person"](people["a_token"])
    refused = await again.connect()
    assert refused["type"] == "error" and refused["code"] == "removed"


async def test_resume_after_socket_kill(people) -> None:
    host = people["person"](people["host_token"])
    await host.connect()
    a = people["person"](people["a_token"])
    await admit(host, a, await a.connect())
    await host.send({"type": "move", "peer": a.peer_id, "subroom": "甲方"})
    await host.send({"type": "move", "peer": host.peer_id, "subroom": "甲方"})
    await media_both_ways(host, a)
    pid = a.peer_id
    old = host.links[pid]

    a.kill()  # the network drops: no leave, no close handshake
    await host.wait(lambda: host.peers.get(pid, {}).get("connected") is False, 10)
    w = await a.reconnect()
    assert w["type"] == "welcome" and w["resumed"] is True and w["peer_id"] == pid and w["subroom"] == "甲方"
    await host.wait(lambda: host.peers[pid]["epoch"] == 1)
    await media_both_ways(host, a)
    assert old.closed and host.links[pid] is not old
