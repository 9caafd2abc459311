"""The speaking time limit is the server's: in a council meeting's room, when a speaker's turn with the floor
runs out (the meeting's ``speaking_limit_s``), the hub takes the floor back for everyone (so the SFU stops
forwarding that audio: ``sfu.plan.audio_forwarded``), and the session's log says why. The floor given again
starts a new turn; outside a council room nothing is timed."""

from __future__ import annotations

import asyncio

from server.councils.models import Meeting
from server.services import services
from server.sfu.plan import audio_forwarded
from tests.integration.councils.test_council_flow import ok, setup_council
from tests.integration.councils.test_council_room import member_in_room
from tests.support.rooms import join, staff_token


async def test_the_floor_is_taken_back_when_the_speaking_time_runs_out(client) -> None:  # type: ignore[no-untyped-def]
    w = await setup_council(client)
    conv, mem, cid = w["conv"], w["members"], w["council"]["id"]
    meeting = await ok(await client.post(f"/api/councils/{cid}/meetings", headers=conv, json={
        "title": "限时发言", "place": "社区议事厅", "scheduled_at": "2026-12-07T10:00:00"}), 201)
    mid, sid = meeting["id"], meeting["session_id"]
    async with services(client.app).db.session() as s:  # a short turn for the test (the API's minimum is 30 s)
        m = await s.get(Meeting, mid)
        assert m is not None
        m.speaking_limit_s = 1
    codes = {e["member"]: e for e in (await ok(await client.post(f"/api/councils/meetings/{mid}/codes",
                                                                  headers=conv)))["codes"]}
    await ok(await client.post(f"/api/councils/meetings/{mid}/open", headers=conv))
    host = await join(client, await staff_token(client, conv, sid))
    speaker = await member_in_room(client, host, codes[mem["res1"]["id"]])
    pid = speaker.welcome["self"]["id"]
    await host.send({"type": "floor", "peer": pid})
    await speaker.expect("room", where=lambda m: m["room"]["floor"] == pid)
    rep = services(client.app).room_hub.rooms[sid]
    assert audio_forwarded(rep.room.rules, "party", has_floor=rep.room.floor == pid, muted=False)
    taken = await speaker.expect("room", timeout=5, where=lambda m: m["room"]["floor"] is None)
    assert taken["room"]["floor"] is None and rep.room.floor is None
    assert not audio_forwarded(rep.room.rules, "party", has_floor=rep.room.floor == pid, muted=False)
    # A new turn is timed afresh; the convenor taking the floor back first leaves nothing to expire.
    await host.send({"type": "floor", "peer": pid})
    await speaker.expect("room", where=lambda m: m["room"]["floor"] == pid)
    await host.send({"type": "floor", "peer": None})
    await speaker.expect("room", where=lambda m: m["room"]["floor"] is None)
    await asyncio.sleep(1.5)
    assert rep.room.floor is None
