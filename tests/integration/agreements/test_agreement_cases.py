"""Agreements and cases: a draft prefilled from the case, the case moved along by freezing."""

from __future__ import annotations

from server import ledger_store
from server.services import services
from tests.conftest import login
from tests.integration.cases.helpers import act, create, get


async def case_in_mediation(client) -> dict:  # type: ignore[no-untyped-def]
    case = await create(client, "mediator", parties=[
        {"role": "applicant", "name": "张三", "phone": "13800001111", "address": "新华村1组",
         "id_number": "110101199003077774"},
        {"role": "respondent", "name": "李四", "phone": "13900002222", "address": "新华村2组",
         "address_confidential": True}])
    code = case["code"]
    await act(client, "mediator", code, "triage", grade="yellow")
    await act(client, "mediator", code, "accept")
    await act(client, "mediator", code, "assign", assignees=["mediator"])
    await act(client, "mediator", code, "start_mediation")
    return await get(client, "mediator", code)


async def test_draft_prefilled_from_case_and_freeze_moves_case(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    case = await case_in_mediation(client)
    r = await client.post("/api/agreements", json={"case_id": case["id"]}, headers=h)
    assert r.status == 201, await r.text()
    a = await r.json()
    c = a["content"]
    assert a["case_id"] == case["id"] and c["dispute_type"] == "land_boundary" and c["case_ref"] == case["code"]
    assert [p["name"] for p in c["parties"]] == ["张三", "李四"]
    assert c["parties"][0]["id_number"] == "110***********7774"
    assert c["parties"][1]["confidential"] is True
    assert c["facts"] == "两家因地界发生争执" and c["issues"] == ["张三与李四宅基地边界纠纷"]
    assert c["default_clause"] and c["mediator_name"]
    assert "新华村2组" not in a["text"]  # a confidential address never reaches the text
    # Terms, then freeze: the case goes to agreement signing.
    body = dict(c)
    body["parties"] = [dict(p, id_number="", keep_id=True) for p in c["parties"]]
    body["obligations"] = [{"key": "t1", "obligor": "p2", "obligee": "p1", "action": "拆除越界围墙",
                            "deadline": "2026-12-31"}]
    r = await client.put(f"/api/agreements/{a['id']}/draft", json={"base_version": 1, "content": body}, headers=h)
    assert r.status == 200, await r.text()
    r = await client.post(f"/api/agreements/{a['id']}/freeze", json={"version": 2}, headers=h)
    assert r.status == 200, await r.text()
    assert (await get(client, "mediator", case["code"]))["status"] == "agreement_signing"
    async with services(client.app).db.session() as s:
        types = [e.type for e in await ledger_store.events(s, f"case:{case['id']}")]
    assert {"agreement.created", "agreement.version_saved", "agreement.frozen"} <= set(types)
    assert types.index("agreement.frozen") < types.index("case.begin_signing")


async def test_case_outside_scope_is_not_found(client) -> None:  # type: ignore[no-untyped-def]
    case = await case_in_mediation(client)
    other = await login(client, "mediator_340321002")
    r = await client.post("/api/agreements", json={"case_id": case["id"]}, headers=other)
    assert r.status == 404
    h = await login(client, "mediator")
    r = await client.post("/api/agreements", json={"case_id": 987654}, headers=h)
    assert r.status == 404


async def test_agreement_of_a_dv_case_is_hidden_from_unnamed_staff(client) -> None:  # type: ignore[no-untyped-def]
    case = await create(client, "mediator", title="婚姻家庭纠纷（家暴）", category="policing", item="domestic_violence",
                        parties=[{"role": "victim", "name": "王五", "phone": "13700003333", "address": "幸福村3组8号"},
                                 {"role": "perpetrator", "name": "赵六", "phone": "13600004444"}])
    h = await login(client, "mediator")
    r = await client.post("/api/agreements", json={"case_id": case["id"], "dispute_type": "marriage_family"},
                          headers=h)
    assert r.status == 201, await r.text()
    a = await r.json()
    assert a["content"]["parties"][0]["confidential"] is True  # the victim's contact details stay hidden
    for username in ("mediator_340321", "admin_340321", "admin", "supervisor"):
        other = await login(client, username)
        assert (await client.get(f"/api/agreements/{a['id']}", headers=other)).status == 404, username
        listed = (await (await client.get("/api/agreements", headers=other)).json())["agreements"]
        assert all(x["id"] != a["id"] for x in listed), username
        assert (await client.get(f"/agreements/{a['id']}", headers=other)).status == 404
    assert (await client.get(f"/api/agreements/{a['id']}", headers=h)).status == 200
