"""Domestic-violence cases: restricted to named staff in the queries themselves, victim details withheld."""

from __future__ import annotations

from tests.integration.cases.helpers import act, create, get, hdr

VICTIM = {"role": "victim", "name": "王五", "phone": "13700003333", "address": "幸福村3组8号"}
PERPETRATOR = {"role": "perpetrator", "name": "赵六", "phone": "13600004444"}


async def dv_case(client, **kw):  # type: ignore[no-untyped-def]
    return await create(client, title="家庭暴力求助", category="policing", item="domestic_violence",
                        parties=[VICTIM, PERPETRATOR], **kw)


async def test_unlisted_staff_get_404_everywhere(client) -> None:
    case = await dv_case(client)
    code = case["code"]
    assert case["domestic_violence"] is True and case["restricted"] is True
    assert [s["username"] for s in case["named_staff"]] == ["mediator"]
    for username in ("mediator_340321", "admin_340321", "admin", "supervisor", "observer", "petition"):
        h = await hdr(client, username)
        await get(client, username, code, 404)
        r = await client.get(f"/api/cases/{code}/log", headers=h)
        assert r.status == 404
        await act(client, username, code, "triage", 404, grade="red")
        r = await client.get("/api/cases?item=domestic_violence", headers=h)
        assert (await r.json())["total"] == 0, username
        r = await client.get(f"/api/cases?q={code}", headers=h)
        assert (await r.json())["total"] == 0, username


async def test_named_staff_see_it_and_victim_details_are_withheld(client) -> None:
    case = await dv_case(client)
    code = case["code"]
    victim = next(p for p in case["parties"] if p["role"] == "victim")
    # The registering township mediator handles the case and sees the victim's details.
    assert victim["phone"] == "13700003333" and victim["phone_confidential"] is True
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{code}/named-staff", headers=h, json={"add": ["mediator_340321"]})
    assert r.status == 200, await r.text()
    d = await get(client, "mediator_340321", code)
    victim = next(p for p in d["parties"] if p["role"] == "victim")
    assert victim["phone"] == "（保密）" and victim["address"] == "（保密）"
    # Unnamed colleagues at the same county still see nothing.
    await get(client, "admin_340321", code, 404)
    # Removing the last handler is refused; removing the county mediator works and hides it again.
    r = await client.post(f"/api/cases/{code}/named-staff", headers=h, json={"remove": ["mediator"]})
    assert r.status == 200  # the county mediator is still a named handler
    r = await client.post(f"/api/cases/{code}/named-staff", headers=await hdr(client, "mediator_340321"),
                          json={"remove": ["mediator_340321"]})
    assert r.status == 409
    r = await client.post(f"/api/cases/{code}/named-staff", headers=await hdr(client, "mediator_340321"),
                          json={"add": ["mediator"], "remove": ["mediator_340321"]})
    assert r.status == 200
    await get(client, "mediator_340321", code, 404)


async def test_dv_grades_and_ledger_keeps_no_contact_details(client) -> None:
    case = await dv_case(client)
    code = case["code"]
    data = await act(client, "mediator", code, "triage", 400, grade="yellow")
    assert data["error"]["code"] == "invalid_grade"
    await act(client, "mediator", code, "triage", grade="orange")
    r = await client.get(f"/api/cases/{code}/log", headers=await hdr(client, "mediator"))
    text = await r.text()
    assert "13700003333" not in text and "幸福村3组8号" not in text


async def test_triage_as_dv_restricts_an_open_case(client) -> None:
    case = await create(client, "grid_340321001001", unit="340321001001", category=None, item=None, parties=[])
    code = case["code"]
    await act(client, "grid_340321001001", code, "escalate", unit="340321001", reason="疑似家暴")
    await get(client, "mediator_340321", code)
    await act(client, "mediator", code, "triage", category="policing", item="domestic_violence", grade="red")
    await get(client, "mediator", code)
    await get(client, "grid_340321001001", code)  # the registering grid worker stays named
    await get(client, "mediator_340321", code, 404)
