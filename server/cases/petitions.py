"""视频信访: a petition is a case of kind ``petition``; its hearing is a ``petition`` session with a panel
drawn from one or more tiers; the outcome and the reply deadline are recorded, the reply is watched."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.case_sessions import create_session
from server.cases.catalog import Kind, Source
from server.cases.errors import Conflict, Denied, Invalid, NotFound
from server.cases.models import Case, CaseAccess, Petition
from server.cases.notifications import notify
from server.cases.service import CaseDraft, Ctx, _text, actor_ref, append_event, register, require
from server.directory.models import Staff, Unit
from server.directory.tiers import Role
from server.ledger import format_time
from server.policy import Actor

PETITION_ROLES = {Role.ADMIN, Role.PETITION_OFFICER, Role.MEDIATOR}
PANEL_ROLES = {Role.ADMIN, Role.PETITION_OFFICER, Role.MEDIATOR, Role.POLICE_LIAISON, Role.EXPERT}
# 信访条例: a reply within 60 days of acceptance.
REPLY_DAYS = 60
PANEL_GRANT_DAYS = 30


async def register_petition(s: AsyncSession, ctx: Ctx, actor: Actor, draft: CaseDraft, subject: str,
                            petitioners: int = 1) -> tuple[Case, Petition]:
    if actor.role not in PETITION_ROLES:
        raise Denied("petitions are registered by petition officers, mediators and admins")
    if not isinstance(petitioners, int) or isinstance(petitioners, bool) or not 1 <= petitioners <= 1000:
        raise Invalid("petitioners must be 1-1000", "invalid_field")
    subject = _text(subject, "subject", 5000)
    draft.kind, draft.source = Kind.PETITION, Source.PETITION
    case = await register(s, ctx, actor, draft)
    pet = Petition(case_id=case.id, petitioners=petitioners, subject=subject, status="registered", panel=[],
                   created_at=ctx.now)
    s.add(pet)
    await s.flush()
    await append_event(s, ctx, case, "petition.registered", {"petitioners": petitioners, "subject": subject,
                                                             "by": actor_ref(actor)})
    return case, pet


async def _petition(s: AsyncSession, case: Case) -> Petition:
    pet = (await s.execute(select(Petition).where(Petition.case_id == case.id))).scalar_one_or_none()
    if pet is None:
        raise NotFound("this case is not a petition")
    return pet


async def schedule_hearing(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, panel_ids: list[int],
                           scheduled_at: datetime, title: str = "") -> Petition:
    await require(s, ctx, actor, case, "petition")
    pet = await _petition(s, case)
    if pet.status not in ("registered", "hearing_scheduled"):
        raise Conflict("the hearing has already taken place", "already_heard")
    if scheduled_at < ctx.now - timedelta(minutes=5):
        raise Invalid("the hearing cannot be in the past", "invalid_field")
    if not panel_ids or len(panel_ids) > 20:
        raise Invalid("a panel has 1-20 members", "invalid_field")
    rows = (await s.execute(select(Staff, Unit).join(Unit, Unit.id == Staff.unit_id)
                            .where(Staff.id.in_(panel_ids), Staff.active.is_(True)))).all()
    found = {st.id: (st, un) for st, un in rows}
    panel = []
    for i in dict.fromkeys(panel_ids):
        pair = found.get(i)
        # Panel members come from the case unit's own line: the unit itself, any tier above it, or below it.
        if pair is None or pair[0].role not in PANEL_ROLES or not (
                case.unit_path.startswith(pair[1].path) or pair[1].path.startswith(case.unit_path)):
            raise Invalid(f"staff {i} cannot sit on this panel", "invalid_staff")
        panel.append(pair)
    sess = await create_session(s, ctx, case, kind="petition", title=_text(title, "title", 200, required=False)
                                or f"{case.code} 视频信访听证", created_by=actor.id, scheduled_at=scheduled_at,
                                extra={"panel": [st.id for st, _ in panel]}, by=actor_ref(actor))
    expires = scheduled_at + timedelta(days=PANEL_GRANT_DAYS)
    for st, _ in panel:
        s.add(CaseAccess(case_id=case.id, staff_id=st.id, kind="panel", expires_at=expires, granted_by=actor.id,
                         granted_at=ctx.now))
    pet.status = "hearing_scheduled"
    pet.hearing_session_id = sess.id
    pet.hearing_at = scheduled_at
    pet.panel = [st.id for st, _ in panel]
    await s.flush()
    members = [{"id": st.id, "name": st.name, "unit": un.code, "tier": un.tier} for st, un in panel]
    await append_event(s, ctx, case, "petition.hearing_scheduled", {
        "session_id": sess.id, "at": format_time(scheduled_at), "panel": members,
        "tiers": sorted({m["tier"] for m in members}), "by": actor_ref(actor)})
    await notify(s, [st.id for st, _ in panel], "petition.hearing", f"信访听证：{case.code}",
                 f"{format_time(scheduled_at)} {case.title}", case, ctx.now)
    return pet


async def record_outcome(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, outcome: str,
                         reply_due_at: datetime | None = None) -> Petition:
    await require(s, ctx, actor, case, "petition")
    pet = await _petition(s, case)
    if pet.status not in ("hearing_scheduled", "heard"):
        raise Conflict("schedule the hearing first", "no_hearing")
    due = reply_due_at or (pet.created_at + timedelta(days=REPLY_DAYS))
    if due <= ctx.now:
        raise Invalid("the reply deadline must be in the future", "invalid_field")
    pet.outcome = _text(outcome, "outcome", 5000)
    pet.reply_due_at = due
    pet.status = "heard"
    pet.reply_warned = False
    await s.flush()
    await append_event(s, ctx, case, "petition.outcome", {"outcome": pet.outcome, "reply_due_at": format_time(due),
                                                          "by": actor_ref(actor)})
    return pet


async def record_reply(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, reply: str) -> Petition:
    await require(s, ctx, actor, case, "petition")
    pet = await _petition(s, case)
    if pet.status != "heard":
        raise Conflict("record the hearing outcome first", "no_outcome")
    reply = _text(reply, "reply", 5000)
    pet.status = "replied"
    pet.replied_at = ctx.now
    await s.flush()
    await append_event(s, ctx, case, "petition.replied", {
        "reply": reply, "on_time": bool(pet.reply_due_at and ctx.now <= pet.reply_due_at), "by": actor_ref(actor)})
    return pet
