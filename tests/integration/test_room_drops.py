"""Drops, reconnection and the end of a session over the real /ws (issue 9, rooms): one place per person,
a dropped place shown as not connected until the grace period (a Config value) ends, and only a moderator
or the idle timeout ending a session. Runs on SQLite and PostgreSQL (the ``client`` fixture)."""

from __future__ import annotations

import asyncio

import pytest

from server.config import Config
from server.services import services
from tests.integration.test_signaling import room_with_party
from tests.support.rooms import Peer, invite, join, staff_token

GRACE_S = 0.8
IDLE_END_S = 2.0


@pytest.fixture
def config(config: Config) -> Config:
    config.room_grace_s = GRACE_S
    config.room_idle_end_s = IDLE_END_S
    return config


def abort(p: Peer) -> None:
    """The network goes: no leave, no close frame."""
    p.ws._response.connection.transport.abort()


async def session_state(client, h: dict, sid: int) -> str:  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/sessions/{sid}", headers=h)
    assert r.status == 200, await r.text()
    return (await r.json())["state"]


async def wait_state(client, h: dict, sid: int, state: str, timeout: float = 8.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (got := await session_state(client, h, sid)) != state:
        assert loop.time() < deadline, f"session is {got}, not {state}"
        await asyncio.sleep(0.1)


async def test_grace_period_comes_from_config(client) -> None:
    assert services(client.server.app).room_hub.grace_s == GRACE_S
    _sid, _h, host, _party = await room_with_party(client)
    assert host.welcome["room"]["grace_s"] == GRACE_S


def test_config_reads_room_timeouts_from_the_environment(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from server.config import ConfigError

    monkeypatch.setenv("CONCORD_SECRET_KEY", "k")
    monkeypatch.setenv("CONCORD_ROOM_GRACE_S", "5")
    monkeypatch.setenv("CONCORD_ROOM_IDLE_END_S", "600")
    c = Config.load(tmp_path)
    assert (c.room_grace_s, c.room_idle_end_s) == (5.0, 600.0)
    monkeypatch.delenv("CONCORD_ROOM_GRACE_S")
    monkeypatch.delenv("CONCORD_ROOM_IDLE_END_S")
    assert (Config.load(tmp_path).room_grace_s, Config.load(tmp_path).room_idle_end_s) == (60.0, 7200.0)
    for bad in ("soon", "-1", "0"):
        monkeypatch.setenv("CONCORD_ROOM_GRACE_S", bad)
        with pytest.raises(ConfigError, match="CONCORD_ROOM_GRACE_S"):
            Config.load(tmp_path)


async def test_dropped_party_is_one_place_then_goes_after_the_grace_period(client) -> None:
    _sid, _h, host, party = await room_with_party(client)
    abort(party)
    upd = await host.expect("peer-updated", timeout=5)
    assert upd["peer"]["id"] == party.peer_id and upd["peer"]["connected"] is False
    left = await host.expect("peer-left", timeout=5)
    assert left == {"type": "peer-left", "peer_id": party.peer_id, "reason": "timeout"}
    # Between the two: no peer-joined, nobody else with the party's name.
    assert not [m for m in host.inbox if m["type"] == "peer-joined"]


async def test_reopening_the_invitation_takes_the_old_place(client) -> None:
    _sid, _h, host, party = await room_with_party(client)
    abort(party)
    await host.expect("peer-updated", where=lambda m: m["peer"]["connected"] is False)
    # A new browser: no resume token, the same invitation link.
    again = await join(client, party.token)  # type: ignore[attr-defined]
    assert again.peer_id == party.peer_id and again.welcome["resumed"] is True
    back = await host.expect("peer-updated", where=lambda m: m["peer"]["connected"] is True)
    assert back["peer"]["id"] == party.peer_id and back["peer"]["epoch"] == 1
    await asyncio.sleep(GRACE_S + 1.2)  # the old grace period passes: the place is not taken away
    assert not [m for m in await host.quiet(0.2) if m["type"] in ("peer-left", "peer-joined")]


async def test_a_new_invitation_for_the_dropped_person_takes_the_place(client) -> None:
    sid, h, host, party = await room_with_party(client)
    abort(party)
    await host.expect("peer-updated", where=lambda m: m["peer"]["connected"] is False)
    inv2 = await invite(client, h, sid, "张三")
    again = await join(client, inv2["token"])
    assert again.peer_id == party.peer_id
    assert not [m for m in await host.quiet(0.3) if m["type"] in ("peer-joined", "knock")]


async def test_everybody_dropping_does_not_end_the_session(client) -> None:
    sid, h, host, party = await room_with_party(client)
    await wait_state(client, h, sid, "live")
    abort(party)
    abort(host)
    await asyncio.sleep(GRACE_S + 1.5)  # both places expired
    room = services(client.server.app).room_hub.rooms[sid].room
    assert room.empty and not room.ended
    assert await session_state(client, h, sid) == "live"
    # The mediator comes back: the same session, and the party's link still works.
    host2 = await join(client, await staff_token(client, h, sid))
    assert host2.welcome["room"]["state"] == "live"
    party2 = await join(client, party.token, expect="lobby")  # type: ignore[attr-defined]
    assert (await host2.expect("knock"))["peer"]["name"] == "张三"
    del party2


async def test_idle_timeout_ends_a_session_everybody_left(client) -> None:
    sid, h, host, party = await room_with_party(client)
    await wait_state(client, h, sid, "live")
    await party.send({"type": "leave"})
    await host.send({"type": "leave"})
    assert await host.closed() == 1000
    await asyncio.sleep(0.3)
    assert await session_state(client, h, sid) == "live"  # leaving is not ending
    await wait_state(client, h, sid, "ended", timeout=IDLE_END_S + 5)
    log = await (await client.get(f"/api/sessions/{sid}/log", headers=h)).json()
    ended = [e for e in log["events"] if e["type"] == "session_ended"]
    assert len(ended) == 1 and ended[0]["data"]["reason"] == "idle"
    late = await join(client, party.token, expect="error")  # type: ignore[attr-defined]
    assert late.welcome is None


async def test_moderator_end_still_ends_at_once(client) -> None:
    sid, h, host, party = await room_with_party(client)
    await host.send({"type": "end"})
    assert (await party.expect("room"))["room"]["state"] == "ended"
    await wait_state(client, h, sid, "ended")


async def test_api_end_of_an_empty_live_room_is_final(client) -> None:
    sid, h, host, party = await room_with_party(client)
    await wait_state(client, h, sid, "live")
    for p in (party, host):
        await p.send({"type": "leave"})
    await host.closed()
    r = await client.post(f"/api/sessions/{sid}/end", headers=h)
    assert r.status == 200 and (await r.json())["state"] == "ended"
    await asyncio.sleep(IDLE_END_S + 1.5)  # the idle timeout does not end it a second time
    log = await (await client.get(f"/api/sessions/{sid}/log", headers=h)).json()
    assert len([e for e in log["events"] if e["type"] == "session_ended"]) == 1


async def test_session_page_lists_a_dropped_person_once_as_reconnecting(client) -> None:
    from tests.integration.test_pages import browser_login

    sid, _h, host, party = await room_with_party(client)
    abort(party)
    await host.expect("peer-updated", where=lambda m: m["peer"]["connected"] is False)
    await browser_login(client, "mediator")
    page = await (await client.get(f"/sessions/{sid}")).text()
    in_room = page.split("正在会议室中", 1)[1].split("</ul>", 1)[0]
    assert in_room.count("<li>张三 ") == 1 and "重新连接中…" in in_room
