"""The notice board (通报): who may circulate, who sees what."""

from __future__ import annotations

from tests.integration.cases.helpers import create, hdr


async def post(client, username: str, status: int, **body) -> dict:  # type: ignore[no-untyped-def]
    r = await client.post("/api/notices", json=body, headers=await hdr(client, username))
    data = await r.json()
    assert r.status == status, data
    return data


async def titles(client, username: str) -> set[str]:  # type: ignore[no-untyped-def]
    r = await client.get("/api/notices", headers=await hdr(client, username))
    return {n["title"] for n in (await r.json())["notices"]}


async def test_notice_board_scopes(client) -> None:
    case = await create(client, "mediator_340321", unit="340321")
    await post(client, "supervisor", 201, kind="commend", title="市级表扬", body="某镇化解积案成效明显")
    await post(client, "mediator_340321", 201, kind="criticise", title="怀远县通报", body="超期案件较多",
               case=case["code"])
    await post(client, "mediator_340322", 201, kind="bulletin", title="五河县通报", body="本周工作安排")
    await post(client, "grid_340321001001", 403, kind="bulletin", title="网格员", body="x")
    await post(client, "observer", 403, kind="bulletin", title="观察员", body="x")
    await post(client, "supervisor", 400, kind="gossip", title="x", body="x")
    await post(client, "mediator_340322", 404, kind="bulletin", title="x", body="x", case=case["code"])
    assert await titles(client, "mediator") == {"市级表扬", "怀远县通报"}
    assert await titles(client, "mediator_340322001") == {"市级表扬", "五河县通报"}
    assert await titles(client, "admin") == {"市级表扬", "怀远县通报", "五河县通报"}


async def test_notice_never_names_a_restricted_case(client) -> None:
    dv = await create(client, title="家暴", category="policing", item="domestic_violence",
                      parties=[{"role": "victim", "name": "王五"}])
    await post(client, "mediator", 409, kind="warning", title="x", body="x", case=dv["code"])
