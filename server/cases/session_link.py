"""The case module's implementation of ``server.sessions.ports.CaseGate``: a session that belongs to a case
asks the case for access and for the case's settings. ``server.app`` hands this module to the sessions feature."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.cases import queries
from server.cases.errors import CaseError
from server.cases.hooks import settings_for_case as settings_for_case
from server.cases.queries import codes_by_id as codes_by_id
from server.policy import Actor


async def case_id_for(s: AsyncSession, actor: Actor, ref: str, now: datetime) -> int | None:
    try:
        return (await queries.find_case(s, actor, ref, now)).id
    except CaseError:
        return None


async def pick_list(s: AsyncSession, actor: Actor, now: datetime) -> list[tuple[str, str]]:
    return await queries.pick_list(s, actor, now)


__all__ = ["case_id_for", "codes_by_id", "pick_list", "settings_for_case"]
