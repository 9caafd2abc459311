"""A small fixed set of cases across the four tiers, walked through the real case API with a fake clock.

The expected dashboard figures are worked out by hand in the tests from this table (times are UTC;
10:00 in Asia/Shanghai is 02:00Z, so every local date below equals the UTC date):

| case | unit (tier)               | category / item                 | grade  | story                                              |
|------|---------------------------|---------------------------------|--------|----------------------------------------------------|
| A    | 340321001 龙亢镇 township | disputes / land_boundary        | yellow | opened 03-02, effective 03-05 (due 03-09: on time), visit 5, closed 03-07 (5.0 days) |
| B    | 340321001001 village      | disputes / neighbourhood        | blue   | opened 03-03, effective 03-10 (on time), visits 4 and 2, in follow-up |
| C    | 340321 怀远县 county      | disputes / labour_wages         | red    | opened 03-02, due 03-03, failed 03-04 (late, 2.0 days) |
| D    | 340321001 township        | social_management / environment | orange | opened 03-16, due 03-19, in mediation: overdue 1.0 day |
| E    | 340322001 五河县 township | services / legal_advice         | yellow | opened 03-09, due 03-16, accepted: overdue 4.0 days |
| F    | 340300 city               | disputes / debt                 | none   | opened 03-18, registered only                      |
| G    | 340321001 township        | policing / domestic_violence    | red    | DV, named: mediator; opened 03-17, due 03-18: overdue |
| H    | 340322 五河县 county      | disputes / traffic              | blue   | opened 03-11, withdrawn 03-12                      |
| I    | 340321001 township        | disputes / marriage_family      | blue   | opened 2025-12-01, effective 2026-01-05 (late), visit 4, closed 01-06 (36.0 days) |

"Now" is 2026-03-20 02:00Z (a Friday); the 12 trend weeks run from Monday 2025-12-29 to Monday 2026-03-16.
"""

from __future__ import annotations

from datetime import UTC, datetime

from server.services import services
from tests.integration.cases.helpers import act, create, hdr

NOW = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int = 2, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=UTC)


async def _step(client, when: datetime, user: str, code: str, action: str, **body) -> dict:  # type: ignore[no-untyped-def]
    services(client.app).clock.set(when)
    return await act(client, user, code, action, **body)


async def _new(client, when: datetime, user: str, unit: str, title: str, category: str, item: str, **kw) -> str:  # type: ignore[no-untyped-def]
    services(client.app).clock.set(when)
    case = await create(client, user, unit=unit, title=title, category=category, item=item, **kw)
    return case["code"]


async def _visit(client, when: datetime, user: str, code: str, satisfaction: int) -> None:  # type: ignore[no-untyped-def]
    services(client.app).clock.set(when)
    r = await client.post(f"/api/cases/{code}/follow-ups", headers=await hdr(client, user),
                          json={"method": "visit", "satisfaction": satisfaction, "recurrence_risk": "low"})
    assert r.status == 201, await r.text()


async def _resolve(client, user: str, code: str, assignee: str, t_assign: datetime, t_effective: datetime) -> None:  # type: ignore[no-untyped-def]
    await _step(client, t_assign, user, code, "accept")
    await _step(client, t_assign, user, code, "assign", assignees=[assignee])
    await _step(client, t_assign, user, code, "start_mediation")
    await _step(client, t_assign, user, code, "begin_signing")
    await _step(client, t_effective, user, code, "make_effective")
    await _step(client, t_effective, user, code, "begin_follow_up")


async def build(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Create cases A-I; returns their codes. Leaves the clock at NOW."""
    codes: dict[str, str] = {}
    m = "mediator"  # 龙亢镇 township mediator

    codes["A"] = a = await _new(client, at(3, 2), m, "340321001", "张三与李四地界纠纷", "disputes", "land_boundary")
    await _step(client, at(3, 2, 3), m, a, "triage", grade="yellow")
    await _resolve(client, m, a, m, at(3, 3), at(3, 5))
    await _visit(client, at(3, 6), m, a, 5)
    await _step(client, at(3, 7), m, a, "close")

    codes["B"] = b = await _new(client, at(3, 3), "grid_340321001001", "340321001001", "王五与赵六邻里纠纷",
                                "disputes", "neighbourhood")
    await _step(client, at(3, 3), m, b, "triage", grade="blue")
    await _resolve(client, m, b, "grid_340321001001", at(3, 4), at(3, 10))
    await _visit(client, at(3, 11), m, b, 4)
    await _visit(client, at(3, 12), m, b, 2)

    cm = "mediator_340321"
    codes["C"] = c = await _new(client, at(3, 2), cm, "340321", "某厂拖欠工资", "disputes", "labour_wages")
    await _step(client, at(3, 2), cm, c, "triage", grade="red")
    await _step(client, at(3, 2), cm, c, "accept")
    await _step(client, at(3, 2), cm, c, "assign", assignees=[cm])
    await _step(client, at(3, 2), cm, c, "start_mediation")
    await _step(client, at(3, 4), cm, c, "fail", reason="双方分歧过大")

    codes["D"] = d = await _new(client, at(3, 16), m, "340321001", "村口垃圾堆放", "social_management", "environment")
    await _step(client, at(3, 16), m, d, "triage", grade="orange")
    await _step(client, at(3, 16), m, d, "accept")
    await _step(client, at(3, 16), m, d, "assign", assignees=[m])
    await _step(client, at(3, 17), m, d, "start_mediation")

    em = "mediator_340322001"
    codes["E"] = e = await _new(client, at(3, 9), em, "340322001", "=HYPERLINK(\"http://x\")法律咨询", "services",
                                "legal_advice")
    await _step(client, at(3, 9), em, e, "triage", grade="yellow")
    await _step(client, at(3, 10), em, e, "accept")

    codes["F"] = await _new(client, at(3, 18), "supervisor", "340300", "市级债务纠纷", "disputes", "debt")

    codes["G"] = g = await _new(client, at(3, 17), m, "340321001", "家暴求助孙七", "policing", "domestic_violence",
                                parties=[{"role": "victim", "name": "孙七", "phone": "13700009999",
                                          "address": "幸福村9组"}])
    await _step(client, at(3, 17), m, g, "triage", grade="red")

    hm = "mediator_340322"
    codes["H"] = h = await _new(client, at(3, 11), hm, "340322", "交通事故赔偿", "disputes", "traffic")
    await _step(client, at(3, 11), hm, h, "triage", grade="blue")
    await _step(client, at(3, 12), hm, h, "withdraw", reason="当事人撤回")

    codes["I"] = i = await _new(client, at(12, 1, year=2025), m, "340321001", "周八婚姻家庭纠纷", "disputes",
                                "marriage_family")
    await _step(client, at(12, 1, year=2025), m, i, "triage", grade="blue")
    await _resolve(client, m, i, m, at(12, 2, year=2025), at(1, 5))
    await _visit(client, at(1, 5, 12), m, i, 4)
    await _step(client, at(1, 6), m, i, "close")

    services(client.app).clock.set(NOW)
    return codes
