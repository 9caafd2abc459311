"""Case lookups for the case pages: the units and staff a form offers, the parties of listed cases."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access
from server.cases import service
from server.cases.models import Case, CaseParty
from server.cases.notices import ancestors_or_self
from server.directory.models import Staff, Unit
from server.directory.queries import path_prefix
from server.policy import Actor


async def units_in(s: AsyncSession, actor: Actor) -> list[Unit]:
    return list((await s.execute(select(Unit).where(access.scope_units(actor, Unit.path)).order_by(Unit.path)
                                 .limit(500))).scalars())


async def line_staff(s: AsyncSession, case: Case, roles: AbstractSet[str]) -> list[tuple[Staff, Unit]]:
    """Staff in the case unit's line (the unit, its ancestors, its descendants) with one of ``roles``."""
    rows = (await s.execute(select(Staff, Unit).join(Unit, Unit.id == Staff.unit_id).where(
        Staff.active.is_(True), Staff.role.in_([str(r) for r in roles]),
        or_(Unit.path.in_(ancestors_or_self(case.unit_path)), path_prefix(Unit.path, case.unit_path)),
    ).order_by(Unit.path, Staff.id).limit(300))).all()
    return list(rows)


async def route_targets(s: AsyncSession, case: Case) -> list[Unit]:
    parent = service.parent_path(case.unit_path)
    q = select(Unit).where(or_(
        Unit.path.in_(ancestors_or_self(case.unit_path)),
        path_prefix(Unit.path, case.unit_path),
        (path_prefix(Unit.path, parent) & (Unit.tier == case.unit_tier)) if parent else Unit.id < 0,
    )).where(Unit.path != case.unit_path).order_by(Unit.path).limit(400)
    return list((await s.execute(q)).scalars())


async def parties_of(s: AsyncSession, case_ids: list[int]) -> dict[int, list[CaseParty]]:
    """Case id -> its parties, in batches of 500 ids."""
    parties: dict[int, list[CaseParty]] = {}
    for i in range(0, len(case_ids), 500):
        for p in (await s.execute(select(CaseParty).where(CaseParty.case_id.in_(case_ids[i:i + 500]))
                                  .order_by(CaseParty.id))).scalars():
            parties.setdefault(p.case_id, []).append(p)
    return parties


async def parties_of_case(s: AsyncSession, case_id: int) -> list[CaseParty]:
    return list((await s.execute(select(CaseParty).where(CaseParty.case_id == case_id)
                                 .order_by(CaseParty.id))).scalars())
