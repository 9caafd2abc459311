"""Domestic-violence staged responses: warning letter (告诫书), summons (传唤), detention (拘留)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.catalog import DVStage
from server.cases.errors import Conflict, Invalid
from server.cases.models import Case, DVResponse
from server.cases.service import Ctx, _text, actor_ref, append_event, require
from server.ledger import format_time
from server.policy import Actor


async def record_response(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, stage: str, authority: str,
                          issued_at: datetime, reference: str = "", notes: str = "") -> DVResponse:
    await require(s, ctx, actor, case, "dv_response")
    if not case.domestic_violence:
        raise Conflict("staged responses belong to domestic-violence cases", "not_dv")
    if stage not in set(DVStage):
        raise Invalid(f"stage must be one of {', '.join(DVStage)}", "invalid_field")
    if issued_at > ctx.now + timedelta(minutes=5):
        raise Invalid("issued_at cannot be in the future", "invalid_field")
    r = DVResponse(case_id=case.id, stage=stage, authority=_text(authority, "authority", 100),
                   reference=_text(reference, "reference", 64, required=False), issued_at=issued_at,
                   notes=_text(notes, "notes", 2000, required=False), recorded_by=actor.id, recorded_at=ctx.now)
    s.add(r)
    await s.flush()
    await append_event(s, ctx, case, "dv.response", {
        "id": r.id, "stage": stage, "authority": r.authority, "reference": r.reference,
        "issued_at": format_time(issued_at), "by": actor_ref(actor)})
    return r
