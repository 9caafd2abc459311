"""The demo network: Bengbu's districts and counties, townships and villages, with fictional staff.

Unit names are public geography (GB/T 2260 codes for city and county); village names and every
person are invented. Running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.directory.models import Staff, Unit
from server.directory.queries import add_staff, add_unit, record, unit_by_code
from server.directory.tiers import Role, Specialty, Tier
from server.security.passwords import hash_password

DEMO_PASSWORD = "concord-demo-2026"

CITY = ("340300", "蚌埠市")
COUNTIES: list[tuple[str, str, list[str]]] = [
    ("340302", "龙子湖区", ["东风街道", "延安街道", "治淮街道"]),
    ("340303", "蚌山区", ["天桥街道", "青年街道", "燕山乡"]),
    ("340304", "禹会区", ["钓鱼台街道", "朝阳街道", "马城镇"]),
    ("340311", "淮上区", ["小蚌埠镇", "梅桥镇", "沫河口镇"]),
    ("340321", "怀远县", ["龙亢镇", "榴城镇", "河溜镇"]),
    ("340322", "五河县", ["城关镇", "新集镇", "小溪镇"]),
    ("340323", "固镇县", ["城关镇", "濠城镇", "连城镇"]),
]
VILLAGE_STEMS = ["新华", "和平", "幸福", "团结", "光明", "红旗", "前进", "东风", "胜利", "长青", "向阳", "丰收"]
# Placeholder names in the style of 张三/李四: obviously not real people.
SURNAMES = ["张", "李", "王", "赵", "钱", "孙", "周", "吴", "郑"]
GIVEN = ["三", "四", "五", "六", "七", "八", "九", "十", "甲", "乙", "丙", "丁"]
EXPERT_SPECIALTIES = [
    [Specialty.LAND, Specialty.PROPERTY],
    [Specialty.MARRIAGE_FAMILY],
    [Specialty.LABOUR],
    [Specialty.NEIGHBOURHOOD, Specialty.TRAFFIC],
    [Specialty.MEDICAL],
]


@dataclass
class DemoAccount:
    username: str
    name: str
    role: str
    unit: str
    created: bool


def _name(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)]


async def _unit(s: AsyncSession, rec: bool, code: str, name: str, tier: Tier, parent: Unit | None) -> Unit:
    unit = await unit_by_code(s, code)
    if unit is None:
        unit = await add_unit(s, code, name, tier, parent)
        if rec:
            await record(s, "unit.created", code=unit.code, name=unit.name, tier=unit.tier,
                         parent=parent.code if parent else None)
    return unit


_demo_hash: str | None = None


async def _staff(s: AsyncSession, rec: bool, out: list[DemoAccount], username: str, name: str, role: Role, unit: Unit,
                 specialties: list[str] | None = None) -> None:
    global _demo_hash
    exists = (await s.execute(select(Staff.id).where(Staff.username == username))).first()
    if not exists:
        # One scrypt hash for the shared, publicly printed demo password: it reveals nothing more.
        _demo_hash = _demo_hash or hash_password(DEMO_PASSWORD)
        staff = await add_staff(s, username, name, DEMO_PASSWORD, role, unit, specialties, password_hash=_demo_hash)
        if rec:
            await record(s, "account.created", staff, unit=unit.code)
    out.append(DemoAccount(username, name, str(role), f"{unit.code} {unit.name}", not exists))


async def seed(s: AsyncSession, *, ledger: bool = False) -> list[DemoAccount]:
    """Create what is missing. With ``ledger`` (``concord demo``), each unit and account made goes on the
    directory chain, as ``concord unit add`` and ``user add`` do, so a fresh demo's chain verifies."""
    rec = ledger
    accounts: list[DemoAccount] = []
    n = 0
    city = await _unit(s, rec, CITY[0], CITY[1], Tier.CITY, None)
    await _staff(s, rec, accounts, "admin", "系统管理员", Role.ADMIN, city)
    await _staff(s, rec, accounts, "supervisor", "督办员赵甲", Role.MEDIATOR, city)
    await _staff(s, rec, accounts, "petition", "信访员钱乙", Role.PETITION_OFFICER, city)
    for ci, (ccode, cname, townships) in enumerate(COUNTIES):
        county = await _unit(s, rec, ccode, cname, Tier.COUNTY, city)
        await _staff(s, rec, accounts, f"admin_{ccode}", f"{cname}管理员", Role.ADMIN, county)
        await _staff(s, rec, accounts, f"mediator_{ccode}", f"调解员{_name(n)}", Role.MEDIATOR, county)
        n += 1
        specs = EXPERT_SPECIALTIES[ci % len(EXPERT_SPECIALTIES)]
        await _staff(s, rec, accounts, f"expert_{ccode}", f"专家{_name(n)}", Role.EXPERT, county, [str(x) for x in specs])
        n += 1
        for ti, tname in enumerate(townships):
            tcode = f"{ccode}{ti + 1:03d}"
            township = await _unit(s, rec, tcode, tname, Tier.TOWNSHIP, county)
            await _staff(s, rec, accounts, f"mediator_{tcode}", f"调解员{_name(n)}", Role.MEDIATOR, township)
            n += 1
            suffix = "社区" if tname.endswith("街道") else "村"
            for vi in range(3):
                vcode = f"{tcode}{vi + 1:03d}"
                stem = VILLAGE_STEMS[(ci * 3 + ti + vi) % len(VILLAGE_STEMS)]
                village = await _unit(s, rec, vcode, stem + suffix, Tier.VILLAGE, township)
                if vi == 0:
                    await _staff(s, rec, accounts, f"grid_{vcode}", f"网格员{_name(n)}", Role.GRID_WORKER, village)
                    n += 1
    # Easy-to-remember names for the walkthrough in the README: 龙亢镇 (怀远县) and its county land expert.
    longkang = await unit_by_code(s, "340321001")
    huaiyuan = await unit_by_code(s, "340321")
    assert longkang is not None and huaiyuan is not None
    await _staff(s, rec, accounts, "mediator", "调解员张三", Role.MEDIATOR, longkang)
    await _staff(s, rec, accounts, "expert", "土地专家李四", Role.EXPERT, huaiyuan, [Specialty.LAND.value])
    await _staff(s, rec, accounts, "observer", "观察员王五", Role.OBSERVER, city)
    return accounts
