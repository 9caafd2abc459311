"""Deadline watch: due-soon and overdue cases, unanswered supervision orders, obligations past their deadline
with no follow-up, petition replies past due. Each finding is notified once and ledgered on the case chain.

``scan`` is one pass at a given time (tests pass a fake one); ``run`` repeats it inside the server when
``config.schedulers`` is on. Warnings are claimed with a conditional UPDATE, so two nodes scanning at once
never warn twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases import catalog
from server.cases.catalog import Grade
from server.cases.models import Case, CaseObligation, Petition, SupervisionOrder
from server.cases.notifications import notify
from server.cases.queries import case_audience, facts
from server.cases.service import Ctx, append_event
from server.cases.workflow import HANDLING
from server.db import Database, rowcount
from server.ledger import format_time

log = logging.getLogger("concord.cases")

BATCH = 500
DUE_SOON, OVERDUE = 1, 2


@dataclass
class ScanResult:
    due_soon: int = 0
    overdue: int = 0
    supervision_overdue: int = 0
    obligations_due: int = 0
    petition_replies_due: int = 0

    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


def _handling() -> list[str]:
    return [str(x) for x in HANDLING]


async def _claim(s: AsyncSession, case: Case, level: int) -> bool:
    res = await s.execute(update(Case).where(Case.id == case.id, Case.warn_level < level).values(warn_level=level)
                          .execution_options(synchronize_session=False))
    return rowcount(res) == 1


async def scan(s: AsyncSession, ctx: Ctx) -> ScanResult:
    now = ctx.now
    out = ScanResult()

    overdue = (await s.execute(select(Case).where(
        Case.status.in_(_handling()), Case.due_at.is_not(None), Case.due_at < now, Case.warn_level < OVERDUE,
    ).order_by(Case.due_at).limit(BATCH))).scalars().all()
    for case in overdue:
        if not await _claim(s, case, OVERDUE):
            continue
        out.overdue += 1
        assert case.due_at is not None  # selected with due_at IS NOT NULL
        hours = round((now - case.due_at).total_seconds() / 3600, 1)
        await append_event(s, ctx, case, "case.overdue", {"due_at": format_time(case.due_at), "hours_late": hours,
                                                          "grade": case.risk_grade})
        audience = await case_audience(s, case, await facts(s, case, now), parent_leads=True)
        await notify(s, audience, "case.overdue", f"超期预警：{case.code} {case.title}",
                     f"办理时限 {format_time(case.due_at)} 已过", case, now)

    # Due soon: the last quarter of the grade's handling time.
    soon_terms = [and_(Case.risk_grade == str(g), Case.due_at < now + timedelta(days=d * (1 - catalog.DUE_SOON_FRACTION)))
                  for g, d in catalog.GRADE_DAYS.items() if g != Grade.GREEN]
    soon = (await s.execute(select(Case).where(
        Case.status.in_(_handling()), Case.due_at.is_not(None), Case.due_at >= now, Case.warn_level < DUE_SOON,
        or_(*soon_terms),
    ).order_by(Case.due_at).limit(BATCH))).scalars().all()
    for case in soon:
        if not await _claim(s, case, DUE_SOON):
            continue
        out.due_soon += 1
        assert case.due_at is not None  # selected with due_at IS NOT NULL
        await append_event(s, ctx, case, "case.due_soon", {"due_at": format_time(case.due_at)})
        audience = await case_audience(s, case, await facts(s, case, now))
        await notify(s, audience, "case.due_soon", f"临期提醒：{case.code} {case.title}",
                     f"请在 {format_time(case.due_at)} 前办结", case, now)

    orders = (await s.execute(select(SupervisionOrder, Case).join(Case, Case.id == SupervisionOrder.case_id).where(
        SupervisionOrder.status == "open", SupervisionOrder.due_at < now, SupervisionOrder.overdue_warned.is_(False),
    ).limit(BATCH))).all()
    for order, case in orders:
        res = await s.execute(update(SupervisionOrder).where(SupervisionOrder.id == order.id,
                                                             SupervisionOrder.overdue_warned.is_(False))
                              .values(overdue_warned=True).execution_options(synchronize_session=False))
        if rowcount(res) != 1:
            continue
        out.supervision_overdue += 1
        await append_event(s, ctx, case, "supervision.overdue", {"id": order.id, "due_at": format_time(order.due_at)})
        audience = await case_audience(s, case, await facts(s, case, now))
        await notify(s, audience + [order.issued_by], "supervision.overdue", f"督办逾期未复：{case.code}",
                     order.instruction, case, now)

    obligations = (await s.execute(select(CaseObligation, Case).join(Case, Case.id == CaseObligation.case_id).where(
        CaseObligation.status.in_(["pending", "partial"]), CaseObligation.due_at.is_not(None),
        CaseObligation.due_at < now, CaseObligation.reminded_at.is_(None),
        or_(CaseObligation.last_followup_at.is_(None), CaseObligation.last_followup_at < CaseObligation.due_at),
    ).limit(BATCH))).all()
    for ob, case in obligations:
        res = await s.execute(update(CaseObligation).where(CaseObligation.id == ob.id,
                                                           CaseObligation.reminded_at.is_(None))
                              .values(reminded_at=now).execution_options(synchronize_session=False))
        if rowcount(res) != 1:
            continue
        out.obligations_due += 1
        assert ob.due_at is not None  # selected with due_at IS NOT NULL
        await append_event(s, ctx, case, "obligation.follow_up_due", {
            "obligation_id": ob.id, "obligor": ob.obligor, "due_at": format_time(ob.due_at)})
        audience = await case_audience(s, case, await facts(s, case, now))
        await notify(s, audience, "obligation.follow_up_due", f"回访提醒：{case.code}",
                     f"{ob.obligor}：{ob.content}（履行期限 {format_time(ob.due_at)} 已到，尚未回访）", case, now)

    petitions = (await s.execute(select(Petition, Case).join(Case, Case.id == Petition.case_id).where(
        Petition.replied_at.is_(None), Petition.reply_due_at.is_not(None), Petition.reply_due_at < now,
        Petition.reply_warned.is_(False),
    ).limit(BATCH))).all()
    for pet, case in petitions:
        res = await s.execute(update(Petition).where(Petition.id == pet.id, Petition.reply_warned.is_(False))
                              .values(reply_warned=True).execution_options(synchronize_session=False))
        if rowcount(res) != 1:
            continue
        out.petition_replies_due += 1
        assert pet.reply_due_at is not None  # selected with reply_due_at IS NOT NULL
        await append_event(s, ctx, case, "petition.reply_overdue", {"reply_due_at": format_time(pet.reply_due_at)})
        audience = await case_audience(s, case, await facts(s, case, now), parent_leads=True)
        await notify(s, audience, "petition.reply_overdue", f"信访答复逾期：{case.code}", case.title, case, now)
    return out


async def run(db: Database, clock: Callable[[], datetime], secret: bytes, interval_s: float,
              stop: asyncio.Event) -> None:
    """Scan every ``interval_s`` seconds until ``stop`` is set; a failed pass is logged and retried next time."""
    while not stop.is_set():
        try:
            async with db.session() as s:
                result = await scan(s, Ctx(clock(), secret))
            if result.total():
                log.info("deadline scan: %s", result)
        except Exception:
            log.exception("deadline scan failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except TimeoutError:
            pass
