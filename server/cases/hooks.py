"""Entry points for other modules that move a case along (no aiohttp, no permission checks: the caller has
already decided, and the ledger records which system acted).

- ``agreement_frozen``: the agreement text is frozen for signing: ``in_mediation`` → ``agreement_signing``.
- ``agreement_effective``: the last signature landed: → ``agreement_effective`` (green, resolved, on-time
  flag), and the agreement's obligations are handed to the follow-ups.
- ``session_settings``: what a new session for a case should carry (a DV case defaults to shuttle mediation).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.access import scope_cases
from server.cases import followups, service
from server.cases.errors import CaseError
from server.cases.models import Case
from server.cases.service import Ctx
from server.cases.workflow import Action, State

SYSTEM = "agreements"


async def agreement_frozen(s: AsyncSession, ctx: Ctx, case_id: int, agreement_id: int) -> str | None:
    """Returns why the case was not moved, or None."""
    case = await service.case_by_id(s, case_id)
    if case.status != State.IN_MEDIATION:
        return f"case is {case.status}"
    try:
        await service.transition(s, ctx, None, case, Action.BEGIN_SIGNING, {"agreement_id": agreement_id},
                                 system=SYSTEM)
    except CaseError as e:
        return e.message
    return None


async def agreement_effective(s: AsyncSession, ctx: Ctx, case_id: int, agreement_id: int,
                              obligations: list[followups.ObligationDraft]) -> str | None:
    """Move the case to ``agreement_effective`` (via signing if needed) and record the obligations."""
    case = await service.case_by_id(s, case_id)
    try:
        if case.status == State.IN_MEDIATION:
            await service.transition(s, ctx, None, case, Action.BEGIN_SIGNING, {"agreement_id": agreement_id},
                                     system=SYSTEM)
        if case.status == State.AGREEMENT_SIGNING:
            await service.transition(s, ctx, None, case, Action.MAKE_EFFECTIVE, {"agreement_id": agreement_id},
                                     system=SYSTEM)
        if obligations:
            await followups.add_obligations(s, ctx, None, case, obligations, agreement_id)
    except CaseError as e:
        return e.message
    return None


def session_settings(case: Case) -> dict[str, Any]:
    """Settings for a session about ``case``: a DV case defaults to shuttle mediation (背靠背).

    ``shuttle: true`` means the parties are kept in separate sub-rooms; placing both sides in one room needs
    ``joint_override`` (set only through ``server.cases.case_sessions.joint_override``, which ledgers it).
    """
    out: dict[str, Any] = {"case_code": case.code}
    if case.domestic_violence:
        out.update(shuttle=True, joint_override=None)
    return out


async def settings_for_case(s: AsyncSession, actor: Any, case_id: Any, *, now: datetime) -> dict[str, Any] | None:
    """For the sessions module: the settings of a new session linked to ``case_id``, or None when the actor
    cannot see that case (unknown, forged or restricted: the caller answers 404)."""

    from sqlalchemy import select

    if not isinstance(case_id, int) or isinstance(case_id, bool) or not 0 < case_id < 2**31:
        return None
    case = (await s.execute(select(Case).where(Case.id == case_id, scope_cases(actor, now)))
            ).scalar_one_or_none()
    return session_settings(case) if case is not None else None
