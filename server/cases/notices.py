"""通报: notices circulated by a unit to its whole subtree (commendation, criticism, bulletin, warning)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access
from server.cases.errors import Conflict, Denied, Invalid
from server.cases.models import Case, Notice
from server.cases.permissions import can_issue_notice
from server.cases.queries import codes_by_id, get_visible
from server.cases.service import Ctx, _text, actor_ref, append_event
from server.directory.models import Staff, Unit
from server.ledger import format_time
from server.policy import Actor

KINDS = {"bulletin": ("通报", "Bulletin"), "commend": ("表扬通报", "Commendation"),
         "criticise": ("批评通报", "Criticism"), "warning": ("预警通报", "Warning")}


def ancestors_or_self(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


async def publish(s: AsyncSession, ctx: Ctx, actor: Actor, kind: str, title: str, body: str,
                  case_code: str | None = None) -> Notice:
    if not can_issue_notice(actor):
        raise Denied("notices are issued by admins and mediators of a township or higher")
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", "invalid_field")
    case: Case | None = None
    if case_code:
        case = await get_visible(s, actor, case_code, ctx.now)
        if case.restricted:
            raise Conflict("a restricted case is never named in a notice", "restricted_case")
    n = Notice(unit_id=actor.unit_id, unit_path=actor.unit_path, kind=kind, title=_text(title, "title", 200),
               body=_text(body, "body", 10000), case_id=case.id if case else None, created_by=actor.id,
               created_at=ctx.now)
    s.add(n)
    await s.flush()
    if case is not None:

        await append_event(s, ctx, case, "notice.published", {"id": n.id, "kind": kind, "title": n.title,
                                                              "by": actor_ref(actor)})
    return n


async def board(s: AsyncSession, actor: Actor, limit: int = 50, *, now: datetime) -> list[dict[str, Any]]:
    """Notices from the actor's own unit and its ancestors, plus those its sub-units issued."""
    q = (select(Notice, Unit, Staff).join(Unit, Unit.id == Notice.unit_id).join(Staff, Staff.id == Notice.created_by)
         .where(access.scope_notices(actor))
         .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit))
    rows = (await s.execute(q)).all()
    # A notice names its case only to those who may see the case: one that became restricted (DV) after
    # the notice went out stays on the board without its code.
    ids = {n.case_id for n, _, _ in rows if n.case_id}
    refs = select(Case.id).where(Case.id.in_(ids), access.scope_case_refs(actor, now, Case.id))
    shown = set((await s.execute(refs)).scalars()) if ids else set()
    codes = await codes_by_id(s, shown)
    return [{"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "unit": u.code, "unit_name": u.name,
             "by": st.name, "case": codes.get(n.case_id) if n.case_id is not None else None,
             "created_at": format_time(n.created_at)}
            for n, u, st in rows]
