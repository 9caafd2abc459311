"""远程指导: a case handler asks for an expert by specialty; an eligible expert accepts, gets a time-boxed grant
to that one case's materials, and a ``consultation`` session is scheduled. Every step is ledgered.

Eligible experts work at the owning unit or one of its ancestors (a county land surveyor for a township
case; the city's experts for anyone below). A restricted (DV) case only goes to a named expert.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access
from server.cases import catalog, workflow
from server.cases.case_sessions import create_session
from server.cases.errors import Conflict, Denied, Invalid, NotFound
from server.cases.models import Case, CaseAccess, Consultation
from server.cases.notices import ancestors_or_self
from server.cases.notifications import notify
from server.cases.service import Ctx, _text, actor_ref, append_event, require
from server.directory.models import Staff, Unit
from server.directory.tiers import Role, Specialty
from server.ledger import format_time
from server.policy import Actor

MIN_HOURS, MAX_HOURS, DEFAULT_HOURS = 1, 24 * 14, 72


async def eligible_experts(s: AsyncSession, case: Case, specialty: str) -> list[tuple[Staff, Unit]]:
    rows = (await s.execute(
        select(Staff, Unit).join(Unit, Unit.id == Staff.unit_id).where(
            Staff.role == Role.EXPERT, Staff.active.is_(True), Unit.path.in_(ancestors_or_self(case.unit_path)))
        .order_by(Unit.path.desc(), Staff.id)
    )).all()
    return [(st, un) for st, un in rows if specialty in (st.specialties or [])]


async def suggested_experts(s: AsyncSession, case: Case) -> tuple[str, list[tuple[Staff, Unit, bool]]]:
    """The specialty a case calls for, and every expert who may serve it, best first: those with that
    specialty before the rest, each group from the nearest tier (the case's own unit) upwards.
    The flag says whether the expert has the specialty."""
    wanted = catalog.ITEM_SPECIALTY.get(case.item or "", "land")
    rows = (await s.execute(
        select(Staff, Unit).join(Unit, Unit.id == Staff.unit_id).where(
            Staff.role == Role.EXPERT, Staff.active.is_(True), Unit.path.in_(ancestors_or_self(case.unit_path)))
        .order_by(Unit.path.desc(), Staff.id)  # deepest path first: the nearest tier
    )).all()
    ranked = [(st, un, wanted in (st.specialties or [])) for st, un in rows]
    ranked.sort(key=lambda r: not r[2])  # stable: nearness kept inside each group
    return wanted, ranked


def _may_take(expert: Actor, c: Consultation, case: Case) -> bool:
    if expert.role != Role.EXPERT or c.specialty not in expert.specialties:
        return False
    if c.target_expert_id is not None:
        return c.target_expert_id == expert.id
    return case.unit_path.startswith(expert.unit_path) and not case.restricted


async def request(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, specialty: str, question: str,
                  target_expert_id: int | None = None, grant_hours: int = DEFAULT_HOURS) -> Consultation:
    await require(s, ctx, actor, case, "consult")
    if workflow.State(case.status) in workflow.ENDED:
        raise Conflict("a finished case takes no consultations", "case_finished")
    if specialty not in set(Specialty):
        raise Invalid(f"specialty must be one of {', '.join(Specialty)}", "invalid_field")
    question = _text(question, "question", 2000)
    if not isinstance(grant_hours, int) or isinstance(grant_hours, bool) or not MIN_HOURS <= grant_hours <= MAX_HOURS:
        raise Invalid(f"grant_hours must be {MIN_HOURS}-{MAX_HOURS}", "invalid_field")
    experts = await eligible_experts(s, case, specialty)
    if target_expert_id is not None:
        if target_expert_id not in {st.id for st, _ in experts}:
            raise Invalid("that expert is not available for this case and specialty", "invalid_expert")
        recipients = [target_expert_id]
    else:
        if case.restricted:
            raise Invalid("a restricted case is consulted with a named expert (give expert)", "expert_required")
        if not experts:
            raise Invalid("no expert with that specialty serves this unit", "no_expert")
        recipients = [st.id for st, _ in experts]
    c = Consultation(case_id=case.id, requested_by=actor.id, specialty=specialty, question=question,
                     target_expert_id=target_expert_id, status="requested", grant_hours=grant_hours,
                     requested_at=ctx.now)
    s.add(c)
    await s.flush()
    await append_event(s, ctx, case, "consultation.requested", {
        "id": c.id, "specialty": specialty, "question": question, "expert": target_expert_id,
        "grant_hours": grant_hours, "by": actor_ref(actor)})
    await notify(s, recipients, "consultation.requested", f"远程指导请求：{case.code}", question, None, ctx.now,
                 link="/consultations")
    return c


async def _load(s: AsyncSession, consultation_id: int) -> tuple[Consultation, Case]:
    row = (await s.execute(select(Consultation, Case).join(Case, Case.id == Consultation.case_id)
                           .where(Consultation.id == consultation_id))).first()
    if row is None:
        raise NotFound("no such consultation")
    return row[0], row[1]


async def inbox(s: AsyncSession, expert: Actor, now: datetime) -> list[tuple[Consultation, Case, Unit]]:
    """Requests this expert may take, and the ones they took while the grant (the case) is still theirs: an
    expired grant takes the consultation, and the case's code and title, off their list."""
    if expert.role != Role.EXPERT:
        return []
    rows = (await s.execute(
        select(Consultation, Case, Unit).join(Case, Case.id == Consultation.case_id)
        .join(Unit, Unit.id == Case.unit_id).where(or_(
            and_(Consultation.expert_id == expert.id, access.scope_cases(expert, now)),
            and_(Consultation.status == "requested", or_(
                Consultation.target_expert_id == expert.id,
                and_(Consultation.target_expert_id.is_(None), Case.restricted.is_(False))))),
        ).order_by(Consultation.requested_at.desc()).limit(200)
    )).all()
    return [(c, case, u) for c, case, u in rows if c.expert_id == expert.id or _may_take(expert, c, case)]


async def accept(s: AsyncSession, ctx: Ctx, expert: Actor, consultation_id: int, scheduled_at: datetime | None
                 ) -> Consultation:
    c, case = await _load(s, consultation_id)
    if not _may_take(expert, c, case):
        raise NotFound("no such consultation")  # not offered to this expert: do not confirm it exists
    if c.status != "requested":
        raise Conflict(f"the request is already {c.status}", "not_open")
    if scheduled_at is not None and scheduled_at < ctx.now - timedelta(minutes=5):
        raise Invalid("scheduled_at is in the past", "invalid_field")
    c.status = "accepted"
    c.expert_id = expert.id
    c.responded_at = ctx.now
    c.grant_expires_at = ctx.now + timedelta(hours=c.grant_hours)
    c.scheduled_at = scheduled_at or ctx.now
    s.add(CaseAccess(case_id=case.id, staff_id=expert.id, kind="expert", expires_at=c.grant_expires_at,
                     granted_by=c.requested_by, granted_at=ctx.now))
    sess = await create_session(s, ctx, case, kind="consultation", title=f"{case.code} 远程指导（{expert.name}）",
                                created_by=expert.id, scheduled_at=c.scheduled_at,
                                extra={"consultation_id": c.id}, by=actor_ref(expert))
    c.session_id = sess.id
    await s.flush()
    await append_event(s, ctx, case, "consultation.accepted", {
        "id": c.id, "expert": actor_ref(expert), "grant_expires_at": format_time(c.grant_expires_at),
        "session_id": sess.id, "scheduled_at": format_time(c.scheduled_at)})
    await notify(s, [c.requested_by], "consultation.accepted", f"专家已接受：{case.code}",
                 f"{expert.name} 将于 {format_time(c.scheduled_at)} 远程指导", case, ctx.now)
    return c


async def decline(s: AsyncSession, ctx: Ctx, expert: Actor, consultation_id: int, reason: str) -> Consultation:
    c, case = await _load(s, consultation_id)
    if not _may_take(expert, c, case):
        raise NotFound("no such consultation")
    if c.target_expert_id != expert.id:
        raise Conflict("an open request is simply left for another expert", "not_targeted")
    if c.status != "requested":
        raise Conflict(f"the request is already {c.status}", "not_open")
    c.status = "declined"
    c.responded_at = ctx.now
    await s.flush()
    reason = _text(reason, "reason", 1000, required=False)
    await append_event(s, ctx, case, "consultation.declined", {"id": c.id, "reason": reason,
                                                               "by": actor_ref(expert)})
    await notify(s, [c.requested_by], "consultation.declined", f"专家未能接受：{case.code}", reason, case, ctx.now)
    return c


async def give_opinion(s: AsyncSession, ctx: Ctx, expert: Actor, case: Case, consultation_id: int, opinion: str
                       ) -> Consultation:
    c = (await s.execute(select(Consultation).where(Consultation.id == consultation_id,
                                                    Consultation.case_id == case.id))).scalar_one_or_none()
    if c is None:
        raise NotFound("no such consultation")
    if c.expert_id != expert.id:
        raise Denied("only the consulting expert gives the opinion")
    if c.status != "accepted":
        raise Conflict(f"the consultation is {c.status}", "not_accepted")
    if c.grant_expires_at is not None and c.grant_expires_at <= ctx.now:
        raise Conflict("the grant to this case has expired", "grant_expired")
    c.opinion = _text(opinion, "opinion", 10000)
    c.status = "completed"
    c.completed_at = ctx.now
    await s.flush()
    await append_event(s, ctx, case, "consultation.opinion", {"id": c.id, "opinion": c.opinion,
                                                              "by": actor_ref(expert)})
    await notify(s, [c.requested_by], "consultation.opinion", f"专家意见：{case.code}", c.opinion[:200], case,
                 ctx.now)
    return c


async def cancel(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, consultation_id: int) -> Consultation:
    await require(s, ctx, actor, case, "consult")
    c = (await s.execute(select(Consultation).where(Consultation.id == consultation_id,
                                                    Consultation.case_id == case.id))).scalar_one_or_none()
    if c is None:
        raise NotFound("no such consultation")
    if c.status != "requested":
        raise Conflict(f"the request is already {c.status}", "not_open")
    c.status = "cancelled"
    await s.flush()
    await append_event(s, ctx, case, "consultation.cancelled", {"id": c.id, "by": actor_ref(actor)})
    return c
