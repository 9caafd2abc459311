"""Votes from the live room: members join the meeting's room with their invitation and code, are marked
present online, vote with a ``vote`` message (answered to them alone, with a receipt for a secret vote);
refusals come back as ``error``; the tally reaches everyone in the room when the vote closes. The gallery
(an observer) cannot vote. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from server import ledger, ledger_store
from server.services import services
from tests.integration.councils.test_council_flow import ok, setup_council
from tests.support.rooms import Peer, join, staff_token


async def member_in_room(client: Any, host: Peer, entry: dict[str, Any]) -> Peer:
    p = await join(client, entry["url"].rsplit("/", 1)[1], expect="lobby", check=entry["code"])
    knock = await host.expect("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    p.welcome = await p.expect("welcome")
    return p


async def test_members_vote_from_the_room_and_everyone_sees_the_tally(client) -> None:  # type: ignore[no-untyped-def]
    w = await setup_council(client)
    conv, mem, cid = w["conv"], w["members"], w["council"]["id"]
    meeting = await ok(await client.post(f"/api/councils/{cid}/meetings", headers=conv, json={
        "title": "线上线下议事会", "place": "社区议事厅", "scheduled_at": "2026-12-07T10:00:00"}), 201)
    mid, sid = meeting["id"], meeting["session_id"]
    codes = {e["member"]: e for e in (await ok(await client.post(f"/api/councils/meetings/{mid}/codes",
                                                                  headers=conv)))["codes"]}
    await ok(await client.post(f"/api/councils/meetings/{mid}/open", headers=conv))
    host = await join(client, await staff_token(client, conv, sid))
    assert host.welcome["role"] == "host"
    # Two members at the table (marked by the convenor), three on their phones (marked by joining the room).
    for key in ("convenor", "party"):
        await ok(await client.post(f"/api/councils/meetings/{mid}/attendance", headers=conv, json={
            "member": mem[key]["id"], "mode": "in_person"}))
    phones = {key: await member_in_room(client, host, codes[mem[key]["id"]]) for key in ("res1", "res2", "prop")}
    gallery_inv = await ok(await client.post(f"/api/sessions/{sid}/invitations", headers=conv, json={
        "role": "observer", "name": "旁听居民"}), 201)
    gallery = await join(client, gallery_inv["token"], expect="lobby")
    knock = await host.expect("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    gallery.welcome = await gallery.expect("welcome")
    att = await phones["res1"].expect("council_attendance", timeout=10, where=lambda m: m["present"] == 5)
    assert att["online"] == 3 and att["in_person"] == 2 and att["quorate"]

    item = (await ok(await client.post(f"/api/councils/meetings/{mid}/items", headers=conv,
                                       json={"title": "充电桩选址"}), 201))["id"]
    vote = await ok(await client.post(f"/api/councils/items/{item}/votes", headers=conv, json={
        "question": "是否同意在东侧安装充电桩", "secret": True}), 201)
    vid = vote["id"]
    await ok(await client.post(f"/api/councils/votes/{vid}/open", headers=conv))
    opened = await gallery.expect("council_vote")
    assert opened["vote"]["state"] == "open"

    receipts = {}
    for key, choice in (("res1", "agree"), ("res2", "agree"), ("prop", "against")):
        await phones[key].send({"type": "vote", "vote": vid, "choice": choice})
        b = await phones[key].expect("ballot")
        assert b["counted"] and b["secret"] and b["receipt"]
        receipts[key] = b["receipt"]
    await phones["res1"].send({"type": "vote", "vote": vid, "choice": "against"})
    assert (await phones["res1"].expect("error"))["code"] == "already_voted"
    await gallery.send({"type": "vote", "vote": vid, "choice": "agree"})
    assert (await gallery.expect("error"))["code"] == "forbidden"  # the gallery's role takes no vote
    await host.send({"type": "vote", "vote": vid, "choice": "agree"})  # the convenor's staff seat
    assert (await host.expect("ballot"))["counted"]
    await phones["prop"].send({"type": "vote", "vote": 999999, "choice": "agree"})
    assert (await phones["prop"].expect("error"))["code"] == "not_found"
    await phones["prop"].send({"type": "vote", "vote": vid, "choice": "maybe"})
    assert (await phones["prop"].expect("error"))["code"] == "invalid_field"

    closed = await ok(await client.post(f"/api/councils/votes/{vid}/close", headers=conv))
    assert closed["result"]["tally"] == {"agree": 3, "against": 1, "abstain": 0, "cast": 4}
    assert closed["result"]["outcome"] == "passed"
    for p in (*phones.values(), gallery, host):
        got = await p.expect("council_vote", where=lambda m: m["vote"]["state"] == "closed")
        assert got["vote"]["result"]["tally"]["cast"] == 4 and "ballots" not in got["vote"]
    assert (await ok(await client.post(f"/api/councils/votes/{vid}/receipt", headers=conv,
                                       json={"receipt": receipts["prop"]})))["counted"]
    # No ballot reached the session's log (the room's ledger): only the council's chain has the vote.
    async with services(client.server.app).db.session() as s:
        room_types = [e.type for e in await ledger_store.events(s, ledger.session_chain(sid))]
        council_types = [e.type for e in await ledger_store.events(s, ledger.council_chain(cid))]
    assert not any("vote" in t or "ballot" in t for t in room_types)
    assert "ballot_refused" in council_types and "vote_closed" in council_types
