"""Deadlines with a fake clock: due-soon and overdue warnings, supervision orders, obligation reminders,
the notification centre and the in-server scheduler."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from server.cases import overdue
from server.cases.service import Ctx
from server.services import services
from tests.integration.cases.helpers import act, create, get, hdr

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def scan(client, at: datetime) -> overdue.ScanResult:  # type: ignore[no-untyped-def]
    async with services(client.app).db.session() as s:
        return await overdue.scan(s, Ctx(at, services(client.app).config.secret_key))


async def inbox(client, username: str) -> dict:  # type: ignore[no-untyped-def]
    r = await client.get("/api/notifications", headers=await hdr(client, username))
    assert r.status == 200
    return await r.json()


async def test_grade_deadlines_and_overdue_warnings(client) -> None:
    services(client.app).clock.set(T0)
    red = await create(client, title="红色纠纷")
    blue = await create(client, title="蓝色纠纷")
    await act(client, "mediator", red["code"], "triage", grade="red")
    d = await act(client, "mediator", blue["code"], "triage", grade="blue")
    assert d["due_at"] == "2026-03-22T01:00:00.000000Z"
    await act(client, "mediator", blue["code"], "accept")
    await act(client, "mediator", blue["code"], "assign", assignees=["mediator_340321"])

    # 12 hours in: nothing due yet (red's last quarter starts at 18 h).
    assert (await scan(client, T0 + timedelta(hours=12))).total() == 0
    # 19 hours: red is due soon.
    r = await scan(client, T0 + timedelta(hours=19))
    assert (r.due_soon, r.overdue) == (1, 0)
    # 25 hours: red is overdue, warned once even when scanned again.
    r = await scan(client, T0 + timedelta(hours=25))
    assert (r.due_soon, r.overdue) == (0, 1)
    assert (await scan(client, T0 + timedelta(hours=26))).total() == 0
    box = await inbox(client, "mediator")
    kinds = [n["kind"] for n in box["notifications"]]
    assert kinds.count("case.overdue") == 1 and kinds.count("case.due_soon") == 1
    # The parent unit's leads hear about overdue cases too (escalation rule).
    county = await inbox(client, "mediator_340321")
    assert any(n["kind"] == "case.overdue" and red["code"] in n["title"] for n in county["notifications"])
    # The overdue flag and filter follow the (fake) clock.
    services(client.app).clock.set(T0 + timedelta(hours=25))
    assert (await get(client, "mediator", red["code"]))["overdue"] is True
    r = await client.get("/api/cases?overdue=1", headers=await hdr(client, "mediator"))
    assert [c["code"] for c in (await r.json())["cases"]] == [red["code"]]
    # The ledger records the warning.
    log = await (await client.get(f"/api/cases/{red['code']}/log", headers=await hdr(client, "mediator"))).json()
    assert [e["type"] for e in log["events"]][-2:] == ["case.due_soon", "case.overdue"]
    # Regrading restarts the clock from triage and re-arms warnings.
    d = await get(client, "mediator", red["code"])
    r = await client.patch(f"/api/cases/{red['code']}", headers=await hdr(client, "mediator"),
                           json={"version": d["version"], "grade": "blue"})
    assert (await r.json())["due_at"] == "2026-03-22T01:00:00.000000Z"
    # Blue (assigned to the county mediator) goes overdue after 20 days.
    r = await scan(client, T0 + timedelta(days=20, hours=1))
    assert r.overdue == 2
    # Mark-read.
    box = await inbox(client, "mediator")
    r = await client.post("/api/notifications/read", headers=await hdr(client, "mediator"),
                          json={"ids": [box["notifications"][0]["id"]]})
    assert (await r.json())["marked"] == 1
    assert (await inbox(client, "mediator"))["unread"] == box["unread"] - 1
    r = await client.post("/api/notifications/read", headers=await hdr(client, "mediator"), json={})
    assert (await inbox(client, "mediator"))["unread"] == 0
    r = await client.post("/api/notifications/read", headers=await hdr(client, "mediator"), json={"ids": "all"})
    assert r.status == 400


async def test_resolved_cases_are_not_overdue(client) -> None:
    services(client.app).clock.set(T0)
    c = await create(client)
    code = c["code"]
    for a, kw in [("triage", {"grade": "red"}), ("accept", {}), ("assign", {"assignees": ["mediator"]}),
                  ("start_mediation", {}), ("begin_signing", {}), ("make_effective", {})]:
        await act(client, "mediator", code, a, **kw)
    assert (await scan(client, T0 + timedelta(days=3))).overdue == 0


async def test_supervision_order_flow(client) -> None:
    services(client.app).clock.set(T0)
    c = await create(client)
    code = c["code"]
    due = (T0 + timedelta(days=2)).isoformat()
    body = {"instruction": "请三日内上门调处并报告进展", "due_at": due}
    r = await client.post(f"/api/cases/{code}/supervision", json=body, headers=await hdr(client, "mediator"))
    assert r.status == 403  # the owning unit cannot supervise itself
    r = await client.post(f"/api/cases/{code}/supervision", json={**body, "due_at": "2020-01-01T00:00:00Z"},
                          headers=await hdr(client, "supervisor"))
    assert r.status == 400
    r = await client.post(f"/api/cases/{code}/supervision", json={**body, "due_at": "tomorrow"},
                          headers=await hdr(client, "supervisor"))
    assert r.status == 400
    r = await client.post(f"/api/cases/{code}/supervision", json=body, headers=await hdr(client, "supervisor"))
    assert r.status == 201, await r.text()
    order = await r.json()
    assert any(n["kind"] == "supervision.issued" for n in (await inbox(client, "mediator"))["notifications"])
    # Past the deadline with no answer: overdue warning to the unit and the issuer, once.
    assert (await scan(client, T0 + timedelta(days=2, minutes=1))).supervision_overdue == 1
    assert (await scan(client, T0 + timedelta(days=2, minutes=2))).supervision_overdue == 0
    assert any(n["kind"] == "supervision.overdue" for n in (await inbox(client, "supervisor"))["notifications"])
    services(client.app).clock.set(T0 + timedelta(days=2, minutes=3))
    r = await client.get("/api/supervision?status=open", headers=await hdr(client, "supervisor"))
    listed = (await r.json())["orders"]
    assert listed[0]["id"] == order["id"] and listed[0]["overdue"] is True
    # The county mediator above can see it, but only the owning unit answers.
    url = f"/api/cases/{code}/supervision/{order['id']}/response"
    r = await client.post(url, json={"response": "已处理"}, headers=await hdr(client, "mediator_340321"))
    assert r.status == 403
    r = await client.post(url, json={"response": "已上门调处，双方达成初步意向"}, headers=await hdr(client, "mediator"))
    assert r.status == 200 and (await r.json())["status"] == "responded"
    r = await client.post(url, json={"response": "再次"}, headers=await hdr(client, "mediator"))
    assert r.status == 409
    r = await client.post(f"/api/cases/{code}/supervision/999999/response", json={"response": "x"},
                          headers=await hdr(client, "mediator"))
    assert r.status == 404
    assert any(n["kind"] == "supervision.responded" for n in (await inbox(client, "supervisor"))["notifications"])


async def test_obligation_reminder_when_no_follow_up(client) -> None:
    services(client.app).clock.set(T0)
    c = await create(client)
    code = c["code"]
    for a, kw in [("triage", {"grade": "yellow"}), ("accept", {}), ("assign", {"assignees": ["mediator"]}),
                  ("start_mediation", {}), ("begin_signing", {})]:
        await act(client, "mediator", code, a, **kw)
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{code}/obligations", headers=h, json={"obligations": [
        {"obligor": "李四", "content": "支付修缮费800元", "due_at": (T0 + timedelta(days=10)).isoformat()},
        {"obligor": "张三", "content": "移除杂物", "due_at": (T0 + timedelta(days=10)).isoformat()}]})
    obligations = (await r.json())["obligations"]
    await act(client, "mediator", code, "make_effective")
    await act(client, "mediator", code, "start_performance")
    assert (await scan(client, T0 + timedelta(days=9))).obligations_due == 0
    # A follow-up after the deadline covers the first obligation; the second gets a reminder.
    services(client.app).clock.set(T0 + timedelta(days=10, hours=1))
    r = await client.post(f"/api/cases/{code}/follow-ups", headers=h, json={
        "method": "visit", "satisfaction": 5, "recurrence_risk": "low",
        "performance": [{"obligation_id": obligations[0]["id"], "status": "performed"}]})
    assert r.status == 201
    res = await scan(client, T0 + timedelta(days=10, hours=2))
    assert res.obligations_due == 1
    assert (await scan(client, T0 + timedelta(days=11))).obligations_due == 0
    reminders = [n for n in (await inbox(client, "mediator"))["notifications"]
                 if n["kind"] == "obligation.follow_up_due"]
    assert len(reminders) == 1 and "移除杂物" in reminders[0]["body"]


async def test_scheduler_runs_inside_the_server(aiohttp_client, config) -> None:
    """With config.schedulers on, the server scans by itself on its (injected) clock."""
    from server.app import create_app
    from server.directory.demo import seed

    config.schedulers = True
    app = create_app(config)
    services(app).cases_scan_interval_s = 0.2
    services(app).clock.set(T0)
    client = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)
    c = await create(client)
    await act(client, "mediator", c["code"], "triage", grade="red")
    services(app).clock.set(T0 + timedelta(days=2))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        box = await inbox(client, "mediator")
        if any(n["kind"] == "case.overdue" for n in box["notifications"]):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the in-server scheduler never warned")
