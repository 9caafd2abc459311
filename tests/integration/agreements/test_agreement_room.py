"""Review in the live session: the mediator presents the draft; everyone's room state shows the same version
and short hash; comments and signatures refresh it."""

from __future__ import annotations

from tests.integration.agreements.helpers import content, mediator_name
from tests.support.rooms import invite, join, make_session, staff_token


async def test_present_reaches_the_room(client) -> None:  # type: ignore[no-untyped-def]
    sid, h = await make_session(client)
    host = await join(client, await staff_token(client, h, sid))
    inv = await invite(client, h, sid, "张三", check={"method": "id_last4", "value": "7774"})
    party = await join(client, inv["token"], expect="lobby", check="7774")
    knock = await host.expect("knock")
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    party.welcome = await party.expect("welcome")
    name = await mediator_name(client, h)
    r = await client.post("/api/agreements", json={"session_id": sid, "content": content(mediator_name=name)},
                          headers=h)
    a = await r.json()
    r = await client.post(f"/api/agreements/{a['id']}/present", json={}, headers=h)
    assert r.status == 200, await r.text()
    for peer in (host, party):
        m = await peer.expect("room", where=lambda m: (m["room"].get("agreement") or {}).get("id") == a["id"])
        shown = m["room"]["agreement"]
        assert shown["short_hash"] == a["short_hash"] and shown["version"] == 1 and shown["state"] == "draft"
    # A party's comment (from the room, with their join token) refreshes what everyone sees.
    r = await client.post(f"/api/agreements/{a['id']}/party/comments", json={
        "invitation": inv["token"], "version": 1, "clause": "t2", "text": "第二期能否推迟？"})
    assert r.status == 201
    m = await host.expect("room", where=lambda m: (m["room"].get("agreement") or {}).get("comments") == 1)
    assert m["room"]["agreement"]["id"] == a["id"]
    # A party may not present; only the agreement's drafters may.
    r = await client.post(f"/api/agreements/{a['id']}/present", json={}, headers={"X-Join-Token": inv["token"]})
    assert r.status == 401
    # Stop showing it.
    r = await client.post(f"/api/agreements/{a['id']}/present", json={"show": False}, headers=h)
    assert r.status == 200
    await party.expect("room", where=lambda m: m["room"].get("agreement") is None)


async def test_present_refuses_another_session(client) -> None:  # type: ignore[no-untyped-def]
    sid, h = await make_session(client)
    other, _ = await make_session(client)
    r = await client.post("/api/agreements", json={"session_id": sid, "content": content()}, headers=h)
    a = await r.json()
    r = await client.post(f"/api/agreements/{a['id']}/present", json={"session_id": other}, headers=h)
    assert r.status == 409 and (await r.json())["error"]["code"] == "wrong_session"
    r = await client.post("/api/agreements", json={"content": content()}, headers=h)
    b = await r.json()
    r = await client.post(f"/api/agreements/{b['id']}/present", json={}, headers=h)
    assert r.status == 400
