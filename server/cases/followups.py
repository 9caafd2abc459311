"""Obligations to perform and follow-up visits (回访).

Obligations come from the agreement (the agreements module calls ``add_obligations`` with
``actor=None`` when an agreement takes effect) or are entered by hand for a paper agreement. A follow-up
records, per obligation, how it was performed, plus the parties' satisfaction (1-5) and the risk of
recurrence. The case's mean satisfaction is kept on the case row for the evaluation table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases import catalog
from server.cases.errors import Conflict, Invalid
from server.cases.models import Case, CaseObligation, FollowUp
from server.cases.service import Ctx, _text, actor_ref, append_event, require
from server.cases.workflow import State
from server.ledger import format_time
from server.policy import Actor

FOLLOW_UP_STATES = {State.AGREEMENT_EFFECTIVE, State.PERFORMING, State.FOLLOW_UP, State.CLOSED}
OBLIGATION_STATES = {State.AGREEMENT_SIGNING, State.AGREEMENT_EFFECTIVE, State.PERFORMING, State.FOLLOW_UP}


@dataclass
class ObligationDraft:
    obligor: str
    content: str
    obligee: str = ""
    due_at: datetime | None = None


def obligation_from(data: Any) -> ObligationDraft:
    if not isinstance(data, dict):
        raise Invalid("each obligation must be an object", "invalid_obligation")
    due = data.get("due_at")
    due_at = None
    if due is not None:
        if not isinstance(due, str):
            raise Invalid("due_at must be an ISO 8601 time", "invalid_obligation")
        try:
            due_at = datetime.fromisoformat(due.replace("Z", "+00:00"))
        except ValueError as e:
            raise Invalid("due_at must be an ISO 8601 time", "invalid_obligation") from e
        if due_at.tzinfo is None:
            raise Invalid("due_at needs a time zone (e.g. Z or +08:00)", "invalid_obligation")
    return ObligationDraft(
        obligor=_text(data.get("obligor"), "obligor", 100), content=_text(data.get("content"), "content", 2000),
        obligee=_text(data.get("obligee"), "obligee", 100, required=False), due_at=due_at,
    )


async def add_obligations(s: AsyncSession, ctx: Ctx, actor: Actor | None, case: Case, items: list[ObligationDraft],
                          agreement_id: int | None = None) -> list[CaseObligation]:
    """Record obligations. ``actor`` None means the agreements module on an agreement taking effect."""
    if actor is not None:
        await require(s, ctx, actor, case, "obligations")
    if State(case.status) not in OBLIGATION_STATES:
        raise Conflict("obligations are recorded once an agreement is being signed or in force", "wrong_state")
    if not items or len(items) > 100:
        raise Invalid("give 1 to 100 obligations", "invalid_obligation")
    start = (await s.execute(select(func.coalesce(func.max(CaseObligation.seq), 0))
                             .where(CaseObligation.case_id == case.id))).scalar_one()
    rows = []
    for i, it in enumerate(items, start=start + 1):
        row = CaseObligation(case_id=case.id, agreement_id=agreement_id, seq=i, obligor=it.obligor,
                             obligee=it.obligee, content=it.content, due_at=it.due_at, status="pending",
                             created_at=ctx.now)
        s.add(row)
        rows.append(row)
    await s.flush()
    await append_event(s, ctx, case, "obligations.added", {
        "agreement_id": agreement_id, "by": actor_ref(actor) if actor else {"system": "agreements"},
        "obligations": [{"id": o.id, "seq": o.seq, "obligor": o.obligor, "obligee": o.obligee, "content": o.content,
                         "due_at": format_time(o.due_at) if o.due_at else None} for o in rows],
    })
    return rows


@dataclass
class FollowUpDraft:
    method: str
    satisfaction: int
    recurrence_risk: str
    notes: str = ""
    performance: list[dict[str, Any]] | None = None


def follow_up_from(data: dict[str, Any]) -> FollowUpDraft:
    method = data.get("method")
    if method not in catalog.FOLLOW_UP_METHODS:
        raise Invalid(f"method must be one of {', '.join(catalog.FOLLOW_UP_METHODS)}", "invalid_field")
    sat = data.get("satisfaction")
    if not isinstance(sat, int) or isinstance(sat, bool) or sat not in catalog.SATISFACTION:
        raise Invalid("satisfaction must be an integer from 1 to 5", "invalid_field")
    risk = data.get("recurrence_risk")
    if risk not in catalog.RECURRENCE_RISKS:
        raise Invalid(f"recurrence_risk must be one of {', '.join(catalog.RECURRENCE_RISKS)}", "invalid_field")
    perf = data.get("performance") or []
    if not isinstance(perf, list) or len(perf) > 100:
        raise Invalid("performance must be a list", "invalid_field")
    clean = []
    for p in perf:
        if not isinstance(p, dict) or not isinstance(p.get("obligation_id"), int) or isinstance(
                p.get("obligation_id"), bool) or p.get("status") not in catalog.PERFORMANCE:
            raise Invalid("each performance entry needs obligation_id and a status "
                          f"({', '.join(catalog.PERFORMANCE)})", "invalid_field")
        clean.append({"obligation_id": p["obligation_id"], "status": p["status"],
                      "note": _text(p.get("note"), "note", 500, required=False)})
    return FollowUpDraft(method, sat, risk, _text(data.get("notes"), "notes", 5000, required=False), clean)


async def record_follow_up(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, d: FollowUpDraft) -> FollowUp:
    await require(s, ctx, actor, case, "follow_up")
    if State(case.status) not in FOLLOW_UP_STATES:
        raise Conflict("follow-up visits happen once an agreement is in force", "wrong_state")
    obligations = {o.id: o for o in (await s.execute(
        select(CaseObligation).where(CaseObligation.case_id == case.id))).scalars()}
    for p in d.performance or []:
        if p["obligation_id"] not in obligations:
            raise Invalid(f"obligation {p['obligation_id']} is not on this case", "invalid_field")
    fu = FollowUp(case_id=case.id, staff_id=actor.id, method=d.method, satisfaction=d.satisfaction,
                  recurrence_risk=d.recurrence_risk, notes=d.notes, performance=d.performance or [], at=ctx.now)
    s.add(fu)
    for p in d.performance or []:
        o = obligations[p["obligation_id"]]
        o.last_followup_at = ctx.now
        if p["status"] != "pending":
            o.status = p["status"]
    await s.flush()
    avg = (await s.execute(select(func.avg(FollowUp.satisfaction)).where(FollowUp.case_id == case.id))).scalar_one()
    # Derived column: does not bump the version, so an editor's form is not made stale by a visit.
    await s.execute(update(Case).where(Case.id == case.id).values(satisfaction=float(avg))
                    .execution_options(synchronize_session=False))
    await s.refresh(case)
    await append_event(s, ctx, case, "follow_up.recorded", {
        "id": fu.id, "method": d.method, "satisfaction": d.satisfaction, "recurrence_risk": d.recurrence_risk,
        "notes": d.notes, "performance": d.performance or [], "by": actor_ref(actor),
    })
    return fu
