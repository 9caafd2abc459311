"""The in-app notification centre: one row per recipient, read or unread."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case, Notification
from server.cases.permissions import HANDLERS, LEADS
from server.db import rowcount
from server.directory.models import Staff
from server.ledger import format_time


async def unit_handlers(s: AsyncSession, unit_id: int, roles: Iterable[str] = HANDLERS) -> list[int]:
    rows = await s.execute(select(Staff.id).where(Staff.unit_id == unit_id, Staff.active.is_(True),
                                                  Staff.role.in_([str(r) for r in roles])).order_by(Staff.id))
    return list(rows.scalars())


async def unit_leads(s: AsyncSession, unit_id: int) -> list[int]:
    return await unit_handlers(s, unit_id, LEADS)


async def notify(s: AsyncSession, staff_ids: Iterable[int], kind: str, title: str, body: str, case: Case | None,
                 now: datetime, link: str | None = None) -> int:
    ids = list(dict.fromkeys(i for i in staff_ids if i))
    for sid in ids:
        s.add(Notification(staff_id=sid, kind=kind, title=title[:200], body=body or "",
                           case_id=case.id if case else None,
                           link=link or (f"/cases/{case.code}" if case else None), created_at=now))
    if ids:
        await s.flush()
    return len(ids)


def notification_json(n: Notification) -> dict[str, Any]:
    return {"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
            "created_at": format_time(n.created_at), "read": n.read_at is not None}


async def inbox(s: AsyncSession, staff_id: int, *, unread_only: bool = False, limit: int = 50
                ) -> tuple[list[Notification], int]:
    q = select(Notification).where(Notification.staff_id == staff_id)
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    rows = list((await s.execute(q.order_by(Notification.id.desc()).limit(limit))).scalars())
    return rows, await unread_count(s, staff_id)


async def unread_count(s: AsyncSession, staff_id: int) -> int:
    return int((await s.execute(select(func.count()).where(Notification.staff_id == staff_id,
                                                           Notification.read_at.is_(None)))).scalar_one())


async def mark_read(s: AsyncSession, staff_id: int, ids: list[int] | None, now: datetime) -> int:
    q = update(Notification).where(Notification.staff_id == staff_id, Notification.read_at.is_(None))
    if ids is not None:
        q = q.where(Notification.id.in_(ids))
    res = await s.execute(q.values(read_at=now))
    return rowcount(res) or 0
