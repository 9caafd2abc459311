"""Video sessions held for a case: scheduling (mediation, consultation, petition hearing) and the ledgered
override that lets both sides of a domestic-violence case share one room."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import ledger, ledger_store
from server.cases import hooks, workflow
from server.cases.errors import Conflict, Invalid, NotFound
from server.cases.models import Case
from server.cases.service import Ctx, _text, actor_ref, append_event, require
from server.clock import BEIJING
from server.policy import Actor
from server.sessions.models import Session

MEDIATION_STATES = {workflow.State.ASSIGNED, workflow.State.IN_MEDIATION, workflow.State.SUSPENDED,
                    workflow.State.AGREEMENT_SIGNING}


async def create_session(s: AsyncSession, ctx: Ctx, case: Case, *, kind: str, title: str, created_by: int | None,
                         scheduled_at: datetime | None, extra: dict[str, Any] | None = None,
                         by: dict[str, Any] | None = None) -> Session:
    """The Session row (same shape and first ledger event as the sessions API) plus a case-chain event."""
    settings = {**hooks.session_settings(case), **(extra or {})}
    sess = Session(kind=kind, title=title, unit_id=case.unit_id, case_id=case.id, state="scheduled",
                   scheduled_at=scheduled_at, created_by=created_by, created_at=ctx.now, settings=settings,
                   version=1)
    s.add(sess)
    await s.flush()
    await ledger_store.append(s, ledger.session_chain(sess.id), "session_created", {
        "kind": kind, "title": title, "unit": case.unit_path.rstrip("/").rsplit("/", 1)[-1], "case_id": case.id,
        "by": created_by, "scheduled_at": ledger.format_time(scheduled_at) if scheduled_at else None,
        "settings": settings}, ctx.now)
    await append_event(s, ctx, case, "session.scheduled", {
        "session_id": sess.id, "kind": kind, "title": title,
        "scheduled_at": ledger.format_time(scheduled_at) if scheduled_at else None,
        "shuttle": bool(settings.get("shuttle")), "by": by or {"id": created_by}})
    return sess


async def schedule_mediation(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, title: str,
                             scheduled_at: datetime | None) -> Session:
    await require(s, ctx, actor, case, "schedule_session")
    if workflow.State(case.status) not in MEDIATION_STATES:
        raise Conflict("assign the case before scheduling a mediation session", "wrong_state")
    title = _text(title, "title", 200, required=False) or f"{case.code} 调解"
    return await create_session(s, ctx, case, kind="mediation", title=title, created_by=actor.id,
                                scheduled_at=scheduled_at, by=actor_ref(actor))


async def joint_override(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, session_id: int, reason: str
                         ) -> Session:
    """Allow both sides of a DV case into one room for this session: explicit, with a reason, ledgered twice."""
    await require(s, ctx, actor, case, "joint_override")
    if not case.domestic_violence:
        raise Conflict("only domestic-violence sessions default to shuttle mediation", "not_dv")
    reason = _text(reason, "reason", 1000)
    sess = (await s.execute(select(Session).where(Session.id == session_id, Session.case_id == case.id))
            ).scalar_one_or_none()
    if sess is None:
        raise NotFound("no such session on this case")
    if sess.state in ("ended", "cancelled"):
        raise Conflict("the session is over", "session_over")
    settings = dict(sess.settings or {})
    if settings.get("joint_override"):
        raise Conflict("the override is already in place", "already_overridden")
    record = {"by": actor.id, "by_name": actor.name, "at": ledger.format_time(ctx.now), "reason": reason}
    settings["joint_override"] = record
    sess.settings = settings
    sess.version = (sess.version or 1) + 1
    await s.flush()
    await ledger_store.append(s, ledger.session_chain(sess.id), "joint_override", record, ctx.now)
    await append_event(s, ctx, case, "dv.joint_override", {"session_id": sess.id, "reason": reason,
                                                          "by": actor_ref(actor)})
    return sess


def parse_when(value: Any) -> datetime | None:
    if value is None:
        return None

    if not isinstance(value, str) or len(value) > 40:
        raise Invalid("scheduled_at must be an ISO 8601 time", "invalid_field")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise Invalid("scheduled_at must be an ISO 8601 time", "invalid_field") from e
    if at.tzinfo is None:
        at = at.replace(tzinfo=BEIJING)
    from datetime import UTC

    return at.astimezone(UTC)
