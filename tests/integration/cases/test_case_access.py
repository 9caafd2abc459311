"""Who sees and who may act on a case, across the four tiers (the access matrix)."""

from __future__ import annotations

from tests.integration.cases.helpers import act, create, get, hdr

# username -> (may see a 龙亢镇 (340321001) case, may triage it)
MATRIX = {
    "mediator": (True, True),               # the owning township's mediator
    "mediator_340321": (True, True),        # county above
    "admin_340321": (True, True),           # county admin above
    "admin": (True, True),                  # city admin
    "supervisor": (True, True),             # city mediator
    "petition": (True, True),               # city petition officer
    "observer": (True, False),              # city observer: read only
    "mediator_340321002": (False, False),   # sibling township
    "mediator_340322": (False, False),      # another county
    "mediator_340322001": (False, False),   # a township in another county
    "grid_340321001001": (False, False),    # a village below: sees only its own subtree
    "expert": (False, False),               # county expert without a grant
}


async def test_view_and_triage_matrix(client) -> None:
    for username, (sees, triages) in MATRIX.items():
        case = await create(client)
        code = case["code"]
        if not sees:
            await get(client, username, code, 404)
            await act(client, username, code, "triage", 404, grade="blue")
            r = await client.get("/api/cases", headers=await hdr(client, username))
            assert code not in {c["code"] for c in (await r.json())["cases"]}, username
            continue
        await get(client, username, code)
        r = await client.get("/api/cases", headers=await hdr(client, username))
        assert code in {c["code"] for c in (await r.json())["cases"]}, username
        if triages:
            await act(client, username, code, "triage", grade="blue")
        else:
            data = await act(client, username, code, "triage", 403, grade="blue")
            assert data["error"]["code"] == "forbidden"


async def test_register_only_in_own_subtree(client) -> None:
    h = await hdr(client, "mediator")
    r = await client.post("/api/cases", headers=h, json={"unit": "340321002", "title": "越权登记"})
    assert r.status == 403
    r = await client.post("/api/cases", headers=await hdr(client, "observer"),
                          json={"unit": "340300", "title": "观察员登记"})
    assert r.status == 403
    r = await client.post("/api/cases", headers=h, json={"unit": "nope", "title": "x"})
    assert r.status == 400


async def test_dispatch_escalate_transfer_across_tiers(client) -> None:
    # County registers, triages, dispatches down to 龙亢镇.
    case = await create(client, "mediator_340321", unit="340321")
    code = case["code"]
    assert code.startswith("340321-")
    await act(client, "mediator_340321", code, "triage", grade="yellow")
    # A township cannot dispatch a county case (not visible to it at all).
    await act(client, "mediator", code, "dispatch", 404, unit="340321001001", reason="x")
    d = await act(client, "mediator_340321", code, "dispatch", unit="340321001", reason="属地管辖")
    assert d["status"] == "transferred" and d["unit"]["code"] == "340321001"
    assert d["transfers"][-1]["kind"] == "dispatch"
    # The township now sees it and accepts it.
    await act(client, "mediator", code, "accept")
    # Dispatch to a village of another township: refused by tier (403).
    await act(client, "mediator", code, "dispatch", 403, unit="340321002001", reason="x")
    # Dispatch "down" to a unit that is not below: refused as bad input (400).
    data = await act(client, "mediator_340321", code, "dispatch", 400, unit="340321002", reason="x")
    assert data["error"]["code"] == "invalid_unit"
    # Transfer sideways to a sibling township; to another county's township is refused.
    await act(client, "mediator", code, "transfer", 403, unit="340322001", reason="x")
    d = await act(client, "mediator", code, "transfer", unit="340321002", reason="当事人住所地")
    assert d["unit"]["code"] == "340321002"
    # The previous owner keeps read access but may no longer act.
    await get(client, "mediator", code)
    await act(client, "mediator", code, "accept", 403)
    await act(client, "mediator_340321002", code, "accept")
    d = await act(client, "mediator_340321002", code, "escalate", unit="340321", reason="涉及多个乡镇")
    assert d["unit"]["code"] == "340321" and [t["kind"] for t in d["transfers"]] == ["dispatch", "transfer", "escalate"]


async def test_village_grid_worker_reports_up(client) -> None:
    case = await create(client, "grid_340321001001", unit="340321001001", parties=[])
    code = case["code"]
    await act(client, "grid_340321001001", code, "triage", 403, grade="blue")
    await act(client, "grid_340321001001", code, "escalate", unit="340321001", reason="村级无法化解")
    data = await act(client, "mediator", code, "accept", 409)
    assert data["error"]["code"] == "triage_required"
    await act(client, "mediator", code, "triage", grade="blue")
    d = await act(client, "mediator", code, "accept")
    assert d["status"] == "accepted"


async def test_supervise_only_from_above(client) -> None:
    case = await create(client)
    d = await get(client, "mediator", case["code"])
    assert d["can"]["supervise"] is False
    d = await get(client, "mediator_340321", case["code"])
    assert d["can"]["supervise"] is True


async def test_assignee_must_be_in_the_line(client) -> None:
    case = await create(client)
    code = case["code"]
    await act(client, "mediator", code, "triage", grade="blue")
    await act(client, "mediator", code, "accept")
    data = await act(client, "mediator", code, "assign", 400, assignees=["mediator_340322"])
    assert data["error"]["code"] == "invalid_staff"
    data = await act(client, "mediator", code, "assign", 400, assignees=["ghost"])
    assert data["error"]["code"] == "unknown_staff"
    d = await act(client, "mediator", code, "assign", assignees=["mediator", "mediator_340321"])
    assert [a["username"] for a in d["assignees"]] == ["mediator", "mediator_340321"]
    assert d["assignees"][0]["lead"] is True
