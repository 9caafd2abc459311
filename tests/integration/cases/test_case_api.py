"""The case API end to end: register, walk the workflow, edit with optimistic locking, refuse bad input."""

from __future__ import annotations

import re
import subprocess
import sys

from server.cases.codes import format_code, serial_for
from server.services import services
from tests.conftest import cli_env
from tests.integration.cases.helpers import act, create, get, hdr


async def test_register_and_code_format(client) -> None:
    case = await create(client)
    assert re.fullmatch(r"340321-\d{4}-\d{6}", case["code"])
    assert case["status"] == "registered" and case["version"] == 1
    second = await create(client)
    # The serial is the county's counter through a keyed permutation (server/cases/codes.py), not the count.
    secret = services(client.app).config.secret_key
    year = int(case["code"].split("-")[1])
    assert case["code"] == format_code("340321", year, serial_for(secret, "340321", year, 1)) != \
        format_code("340321", year, 1)
    assert second["code"] == format_code("340321", year, serial_for(secret, "340321", year, 2))
    assert {p["name"] for p in case["parties"]} == {"张三", "李四"}


async def test_forged_or_malformed_code_is_404(client) -> None:
    case = await create(client)
    h = await hdr(client, "mediator")
    forged = case["code"][:-6] + "999999"
    for code in (forged, "340321-2026-00001", "../etc/passwd", "' OR 1=1 --"):
        r = await client.get(f"/api/cases/{code}", headers=h)
        assert r.status == 404, code
        assert (await r.json())["error"]["code"] == "not_found"


async def test_illegal_transition_is_409_and_missing_reason_400(client) -> None:
    case = await create(client)
    data = await act(client, "mediator", case["code"], "close", 409)
    assert data["error"]["code"] == "illegal_transition"
    await act(client, "mediator", case["code"], "triage", grade="yellow")
    data = await act(client, "mediator", case["code"], "reject", 400)
    assert data["error"]["code"] == "reason_required"
    data = await act(client, "mediator", case["code"], "fly", 400)
    assert data["error"]["code"] == "unknown_action"


async def test_stale_update_is_409(client) -> None:
    case = await create(client)
    code, v = case["code"], case["version"]
    h = await hdr(client, "mediator")
    h2 = await hdr(client, "mediator_340321")  # a county mediator above it edits at the same time
    r1 = await client.patch(f"/api/cases/{code}", json={"version": v, "title": "标题一"}, headers=h)
    r2 = await client.patch(f"/api/cases/{code}", json={"version": v, "title": "标题二"}, headers=h2)
    assert r1.status == 200 and (await r1.json())["version"] == v + 1
    assert r2.status == 409 and (await r2.json())["error"]["code"] == "stale_version"
    assert (await get(client, "mediator", code))["title"] == "标题一"
    # Missing version is a 400, not a silent overwrite.
    r3 = await client.patch(f"/api/cases/{code}", json={"title": "x"}, headers=h)
    assert r3.status == 400


async def test_full_walk_and_ledger(client, config) -> None:
    case = await create(client)
    code = case["code"]
    await act(client, "mediator", code, "triage", grade="orange")
    await act(client, "mediator", code, "accept")
    d = await act(client, "mediator", code, "assign", assignees=["mediator"])
    assert d["status"] == "assigned" and d["assignees"][0]["username"] == "mediator"
    await act(client, "mediator", code, "start_mediation")
    await act(client, "mediator", code, "suspend", reason="当事人外出")
    await act(client, "mediator", code, "resume")
    await act(client, "mediator", code, "begin_signing")
    d = await act(client, "mediator", code, "make_effective")
    assert d["grade"] == "green" and d["risk_grade"] == "orange"
    await act(client, "mediator", code, "start_performance")
    await act(client, "mediator", code, "begin_follow_up")
    r = await client.get(f"/api/cases/{code}/log", headers=await hdr(client, "mediator"))
    log = await r.json()
    assert log["verified"] is True
    types = [e["type"] for e in log["events"]]
    assert types[0] == "case.registered" and "case.assign" in types and types[-1] == "case.begin_follow_up"
    # The CLI verifies the same chain.
    out = subprocess.run([sys.executable, "-m", "server", "verify-log", "--case", str(d["id"]),
                          "--data-dir", str(config.data_dir)], capture_output=True, text=True,
                         env=cli_env(CONCORD_DATABASE_URL=config.database_url), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"OK {len(types)} events"


async def test_list_filter_and_paginate(client) -> None:
    for i in range(5):
        await create(client, title=f"纠纷{i}")
    c = await create(client, title="债务纠纷", category="disputes", item="debt")
    await act(client, "mediator", c["code"], "triage", grade="red")
    h = await hdr(client, "mediator")
    r = await client.get("/api/cases?per_page=2&page=2", headers=h)
    data = await r.json()
    assert r.status == 200 and data["total"] == 6 and len(data["cases"]) == 2 and data["page"] == 2
    r = await client.get("/api/cases?item=debt&grade=red&status=triaged", headers=h)
    assert [x["code"] for x in (await r.json())["cases"]] == [c["code"]]
    for bad in ("page=0", "per_page=1000", "page=abc", "status=nonsense", "from=yesterday"):
        r = await client.get(f"/api/cases?{bad}", headers=h)
        assert r.status == 400, bad
    r = await client.get("/api/cases?unit=999999", headers=h)
    assert r.status == 404
    r = await client.get("/api/cases?q=%27%3B%20DROP%20TABLE%20cases%3B--", headers=h)
    assert r.status == 200 and (await r.json())["total"] == 0


async def test_follow_up_obligations_and_close(client) -> None:
    case = await create(client)
    code = case["code"]
    for action, extra in [("triage", {"grade": "blue"}), ("accept", {}), ("assign", {"assignees": ["mediator"]}),
                          ("start_mediation", {}), ("begin_signing", {})]:
        await act(client, "mediator", code, action, **extra)
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{code}/obligations", headers=h, json={"obligations": [
        {"obligor": "李四", "obligee": "张三", "content": "拆除越界围墙", "due_at": "2026-04-01T00:00:00+08:00"},
        {"obligor": "张三", "content": "支付补偿款500元"}]})
    assert r.status == 201, await r.text()
    obligations = (await r.json())["obligations"]
    await act(client, "mediator", code, "make_effective")
    await act(client, "mediator", code, "begin_follow_up")
    await act(client, "mediator", code, "close", 409)  # no follow-up yet
    bad = await client.post(f"/api/cases/{code}/follow-ups", headers=h,
                            json={"method": "visit", "satisfaction": 9, "recurrence_risk": "low"})
    assert bad.status == 400
    bad = await client.post(f"/api/cases/{code}/follow-ups", headers=h, json={
        "method": "visit", "satisfaction": 4, "recurrence_risk": "low",
        "performance": [{"obligation_id": 999999, "status": "performed"}]})
    assert bad.status == 400
    r = await client.post(f"/api/cases/{code}/follow-ups", headers=h, json={
        "method": "phone", "satisfaction": 4, "recurrence_risk": "low", "notes": "双方满意",
        "performance": [{"obligation_id": obligations[0]["id"], "status": "performed"}]})
    assert r.status == 201, await r.text()
    d = await act(client, "mediator", code, "close")
    assert d["status"] == "closed" and d["satisfaction"] == 4.0
    assert d["obligations"][0]["status"] == "performed" and d["obligations"][1]["status"] == "pending"
    # A finished case is read only.
    r = await client.patch(f"/api/cases/{code}", json={"version": d["version"], "title": "改"}, headers=h)
    assert r.status == 409


async def test_concurrent_registrations_get_distinct_codes(client) -> None:
    import asyncio

    h = await hdr(client, "mediator")

    async def one(i: int) -> str:
        r = await client.post("/api/cases", json={"unit": "340321001", "title": f"并发登记{i}"}, headers=h)
        assert r.status == 201, await r.text()
        return (await r.json())["code"]

    got = await asyncio.gather(*(one(i) for i in range(12)))
    assert len(set(got)) == 12
    # No number skipped or used twice: exactly the first twelve serials of the county's permutation.
    year = int(got[0].split("-")[1])
    secret = services(client.app).config.secret_key
    assert set(got) == {format_code("340321", year, serial_for(secret, "340321", year, n)) for n in range(1, 13)}


async def test_concurrent_transitions_one_wins(client) -> None:
    """Two handlers accept the same case at once: one succeeds, the other gets a 409, never a 500."""
    import asyncio

    case = await create(client)
    await act(client, "mediator", case["code"], "triage", grade="blue")
    h1, h2 = await hdr(client, "mediator"), await hdr(client, "mediator_340321")
    url = f"/api/cases/{case['code']}/transitions"
    r1, r2 = await asyncio.gather(client.post(url, json={"action": "accept"}, headers=h1),
                                  client.post(url, json={"action": "accept"}, headers=h2))
    assert sorted([r1.status, r2.status]) == [200, 409]


async def test_a_code_already_taken_is_skipped(client) -> None:  # type: ignore[no-untyped-def]
    """An old sequential code, or one made under an earlier key, is never handed out twice."""
    from sqlalchemy import update

    from server.cases.models import CaseCounter

    first = await create(client)
    async with services(client.app).db.session() as s:  # as if the counter met a code it did not make
        await s.execute(update(CaseCounter).values(last=0))
    second = await create(client)
    year = int(first["code"].split("-")[1])
    secret = services(client.app).config.secret_key
    assert second["code"] == format_code("340321", year, serial_for(secret, "340321", year, 2)) != first["code"]
