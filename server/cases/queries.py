"""Reading cases with visibility enforced in SQL: what an actor cannot see does not exist (404).

A case is visible to an actor when
- it is not restricted and its owning unit, or a unit it passed through, is in the actor's subtree
  (experts excepted: they see only what they are granted), or
- the actor holds a live access row on it: named staff (the only way into a domestic-violence case),
  an expert's time-boxed grant, a petition panel seat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from server.cases import codes
from server.cases.errors import NotFound
from server.cases.models import Case, CaseAccess, CaseAssignee, CaseUnit
from server.cases.notifications import unit_handlers, unit_leads
from server.cases.permissions import CaseFacts
from server.cases.workflow import HANDLING
from server.db import dialect_name
from server.directory.models import Staff, Unit
from server.directory.queries import path_prefix
from server.directory.tiers import Role
from server.ids import parse_id
from server.policy import Actor


def live_access(actor_id: int, now: datetime, kinds: tuple[str, ...] | None = None) -> ColumnElement[bool]:
    cond = [
        CaseAccess.case_id == Case.id,
        CaseAccess.staff_id == actor_id,
        CaseAccess.revoked_at.is_(None),
        or_(CaseAccess.expires_at.is_(None), CaseAccess.expires_at > now),
    ]
    if kinds:
        cond.append(CaseAccess.kind.in_(kinds))
    return exists().where(*cond)


def visible(actor: Actor, now: datetime) -> ColumnElement[bool]:
    granted = live_access(actor.id, now)
    if actor.role == Role.EXPERT:
        return granted
    by_unit = or_(
        path_prefix(Case.unit_path, actor.unit_path),
        exists().where(CaseUnit.case_id == Case.id, path_prefix(CaseUnit.unit_path, actor.unit_path)),
    )
    return or_(and_(Case.restricted.is_(False), by_unit), granted)


async def get_visible(s: AsyncSession, actor: Actor, code: str, now: datetime, *, lock: bool = False) -> Case:
    """The case with this code if the actor may see it; NotFound otherwise (forged, unknown or hidden)."""
    if not isinstance(code, str) or not codes.valid(code):
        raise NotFound("no such case", zh="没有这个案件，或您无权查看。")
    q = select(Case).where(Case.code == code, visible(actor, now))
    if lock and dialect_name(s) == "postgresql":
        q = q.with_for_update(of=Case)
    case = (await s.execute(q)).scalar_one_or_none()
    if case is None:
        raise NotFound("no such case", zh="没有这个案件，或您无权查看。")
    return case


async def find_case(s: AsyncSession, actor: Actor, ref: str, now: datetime) -> Case:
    """A case as a person names it in a form: its code (340321-2026-000002); the internal number still
    works for old links. NotFound unless the actor may see it."""
    ref = "".join((ref or "").split())[:40]
    if ref.isascii() and ref.isdigit():
        case_id = parse_id(ref)  # beyond the id range: no such case (not a database overflow)
        case = None if case_id is None else (await s.execute(
            select(Case).where(Case.id == case_id, visible(actor, now)))).scalar_one_or_none()
        if case is None:
            raise NotFound("no such case", zh="没有这个案件，或您无权查看。")
        return case
    return await get_visible(s, actor, ref, now)


async def pick_list(s: AsyncSession, actor: Actor, now: datetime, limit: int = 50) -> list[tuple[str, str]]:
    """(code, title) of the actor's open cases, newest first, for a form's case picker."""
    rows = await s.execute(select(Case.code, Case.title).where(visible(actor, now),
                                                               Case.status.in_([str(x) for x in HANDLING]))
                           .order_by(Case.created_at.desc(), Case.id.desc()).limit(limit))
    return [(code, title) for code, title in rows.all()]


async def codes_by_id(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    """Case id -> case code, for pages that hold only the id (sessions, notices) but must show the code."""
    if not ids:
        return {}
    return {i: c for i, c in (await s.execute(select(Case.id, Case.code).where(Case.id.in_(ids)))).all()}


async def facts(s: AsyncSession, case: Case, now: datetime) -> CaseFacts:
    assignees = set((await s.execute(select(CaseAssignee.staff_id).where(CaseAssignee.case_id == case.id))).scalars())
    rows = (await s.execute(
        select(CaseAccess.staff_id, CaseAccess.kind).where(
            CaseAccess.case_id == case.id, CaseAccess.revoked_at.is_(None),
            or_(CaseAccess.expires_at.is_(None), CaseAccess.expires_at > now))
    )).all()
    named = {sid for sid, kind in rows if kind == "named"}
    grantees = {sid for sid, kind in rows if kind != "named"}
    previous = tuple((await s.execute(
        select(CaseUnit.unit_path).where(CaseUnit.case_id == case.id, CaseUnit.unit_path != case.unit_path)
    )).scalars())
    return CaseFacts(case.unit_path, case.restricted, frozenset(assignees), frozenset(named), frozenset(grantees),
                     previous)


@dataclass
class CaseFilter:
    status: list[str] | None = None
    category: str | None = None
    item: str | None = None
    grade: str | None = None
    kind: str | None = None
    source: str | None = None
    unit_path: str | None = None  # subtree
    overdue: bool = False
    mine: bool = False
    q: str | None = None
    opened_from: Any = None
    opened_to: Any = None


def filtered(actor: Actor, f: CaseFilter, now: datetime) -> Select:
    stmt = select(Case).where(visible(actor, now))
    if f.status:
        stmt = stmt.where(Case.status.in_(f.status))
    if f.category:
        stmt = stmt.where(Case.category == f.category)
    if f.item:
        stmt = stmt.where(Case.item == f.item)
    if f.grade:
        stmt = stmt.where(Case.grade == f.grade)
    if f.kind:
        stmt = stmt.where(Case.kind == f.kind)
    if f.source:
        stmt = stmt.where(Case.source == f.source)
    if f.unit_path:
        stmt = stmt.where(path_prefix(Case.unit_path, f.unit_path))
    if f.overdue:
        stmt = stmt.where(Case.status.in_([str(x) for x in HANDLING]), Case.due_at.is_not(None), Case.due_at < now)
    if f.mine:
        stmt = stmt.where(exists().where(CaseAssignee.case_id == Case.id, CaseAssignee.staff_id == actor.id))
    if f.q:
        term = f.q[:50]
        stmt = stmt.where(or_(Case.title.contains(term, autoescape=True), Case.code.contains(term, autoescape=True)))
    if f.opened_from is not None:
        stmt = stmt.where(Case.opened_on >= f.opened_from)
    if f.opened_to is not None:
        stmt = stmt.where(Case.opened_on <= f.opened_to)
    return stmt


async def page(s: AsyncSession, actor: Actor, f: CaseFilter, now: datetime, page_no: int, per_page: int
               ) -> tuple[list[tuple[Case, str]], int]:
    base = filtered(actor, f, now)
    total = (await s.execute(select(func.count()).select_from(base.order_by(None).subquery()))).scalar_one()
    q = (base.add_columns(Unit.name).join(Unit, Unit.id == Case.unit_id)
         .order_by(Case.created_at.desc(), Case.id.desc()).limit(per_page).offset((page_no - 1) * per_page))
    rows = [(c, name) for c, name in (await s.execute(q)).all()]
    return rows, total


async def case_audience(s: AsyncSession, case: Case, f: CaseFacts, *, parent_leads: bool = False) -> list[int]:
    """Who hears about a case: its assignees and the owning unit's handlers (optionally the parent unit's leads).

    For a restricted case only named staff are told anything, so a notification never reveals it to others.
    """

    ids = list(f.assignees) + await unit_handlers(s, case.unit_id)
    if parent_leads:
        parent = (await s.execute(select(Unit.parent_id).where(Unit.id == case.unit_id))).scalar_one_or_none()
        if parent:
            ids += await unit_leads(s, parent)
    if case.restricted:
        ids = [i for i in ids if i in f.named or i in f.grantees]
    return list(dict.fromkeys(ids))


async def staff_by_username(s: AsyncSession, usernames: list[str]) -> dict[str, int]:
    """Username -> staff id for those of ``usernames`` that exist."""
    return dict((await s.execute(select(Staff.username, Staff.id).where(Staff.username.in_(usernames)))).all())
