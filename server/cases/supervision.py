"""督办: a higher tier orders the owning unit to act on a case by a deadline and to answer in writing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases import workflow
from server.cases.errors import Conflict, Invalid, NotFound
from server.cases.models import Case, SupervisionOrder
from server.cases.notifications import notify
from server.cases.queries import case_audience, facts
from server.cases.service import Ctx, _text, actor_ref, append_event, require
from server.ledger import format_time
from server.policy import Actor

MAX_DAYS = 90


async def issue(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, instruction: str, due_at: datetime
                ) -> SupervisionOrder:
    await require(s, ctx, actor, case, "supervise")
    if workflow.State(case.status) in workflow.ENDED:
        raise Conflict("a finished case is not supervised", "case_finished")
    instruction = _text(instruction, "instruction", 2000)
    if due_at.tzinfo is None:
        raise Invalid("due_at needs a time zone", "invalid_field")
    if not ctx.now < due_at <= ctx.now + timedelta(days=MAX_DAYS):
        raise Invalid(f"the response deadline must be in the next {MAX_DAYS} days", "invalid_field")
    order = SupervisionOrder(case_id=case.id, issuer_unit_id=actor.unit_id, issuer_unit_path=actor.unit_path,
                             target_unit_id=case.unit_id, issued_by=actor.id, instruction=instruction,
                             due_at=due_at, status="open", created_at=ctx.now)
    s.add(order)
    await s.flush()
    await append_event(s, ctx, case, "supervision.issued", {
        "id": order.id, "instruction": instruction, "due_at": format_time(due_at), "by": actor_ref(actor)})
    audience = await case_audience(s, case, await facts(s, case, ctx.now))
    await notify(s, audience, "supervision.issued", f"督办：{case.code} {case.title}",
                 f"{instruction}（请于 {format_time(due_at)} 前回复）", case, ctx.now)
    return order


async def respond(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, order_id: int, response: str
                  ) -> SupervisionOrder:
    await require(s, ctx, actor, case, "respond_supervision")
    order = (await s.execute(select(SupervisionOrder).where(SupervisionOrder.id == order_id,
                                                            SupervisionOrder.case_id == case.id))).scalar_one_or_none()
    if order is None:
        raise NotFound("no such supervision order on this case")
    if order.status != "open":
        raise Conflict("this supervision order has already been answered", "already_responded")
    order.response = _text(response, "response", 5000)
    order.status = "responded"
    order.responded_by = actor.id
    order.responded_at = ctx.now
    await s.flush()
    late = ctx.now > order.due_at
    await append_event(s, ctx, case, "supervision.responded", {
        "id": order.id, "response": order.response, "late": late, "by": actor_ref(actor)})
    await notify(s, [order.issued_by], "supervision.responded", f"督办已回复：{case.code}", order.response, case,
                 ctx.now)
    return order
