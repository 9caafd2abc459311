"""Council lookups for the pages (service layer): what a page shows beside ``server.councils.service`` — counts
for the list, a record *within* its council (so a URL cannot pair one council's id with another's meeting), the
public pages' councils and what of a task is public, and the agenda's current item.

Plain reads, except :func:`set_current_item` (the convenor takes up an agenda item; ledgered ``item_current``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access, ledger, ledger_store
from server.access import Action
from server.cases import session_link
from server.councils import rules
from server.councils import service as svc
from server.councils.models import (
    AgendaItem,
    Attendance,
    Comment,
    Council,
    CouncilMember,
    Meeting,
    Task,
    Topic,
    Vote,
)
from server.directory.models import Unit
from server.directory.queries import path_prefix
from server.policy import Actor
from server.sessions import service as sessions
from server.sessions.models import Invitation, Session


async def unit_name(s: AsyncSession, c: Council) -> str:
    unit = await s.get(Unit, c.unit_id)
    return unit.name if unit is not None else ""


async def unit_path_of(s: AsyncSession, code: str) -> str | None:
    return (await s.execute(select(Unit.path).where(Unit.code == code))).scalar_one_or_none()


async def council_units(s: AsyncSession, actor: Actor) -> list[Unit]:
    """The units where the actor may set up a council: its own unit, when it is a village/community or a township
    and the actor is of its staff (``access.council_manager``)."""
    unit = await s.get(Unit, actor.unit_id)
    if unit is None or unit.tier not in svc.COUNCIL_UNIT_TIERS:
        return []
    if not access.council_manager(actor, access.Record(access.Kind.COUNCIL, unit.path)):
        return []
    return [unit]


async def council_counts(s: AsyncSession, ids: Iterable[int]) -> dict[int, dict[str, int]]:
    ids = list(ids)
    out: dict[int, dict[str, int]] = {i: {"members": 0, "topics": 0, "meetings": 0} for i in ids}
    if not ids:
        return out
    for key, model, col in (("members", CouncilMember, CouncilMember.council_id), ("topics", Topic, Topic.council_id),
                            ("meetings", Meeting, Meeting.council_id)):
        q = select(col, func.count()).select_from(model).where(col.in_(ids)).group_by(col)
        if model is CouncilMember:
            q = q.where(CouncilMember.active.is_(True))
        for cid, n in (await s.execute(q)).all():
            out[cid][key] = int(n)
    return out


async def comment_counts(s: AsyncSession, topic_ids: Iterable[int]) -> dict[int, int]:
    ids = list(topic_ids)
    if not ids:
        return {}
    rows = await s.execute(select(Comment.topic_id, func.count()).where(Comment.topic_id.in_(ids))
                           .group_by(Comment.topic_id))
    return {tid: int(n) for tid, n in rows.all()}


async def topic_in(s: AsyncSession, c: Council, topic_id: int | None) -> Topic | None:
    t = await s.get(Topic, topic_id) if topic_id else None
    return t if t is not None and t.council_id == c.id else None


async def meeting_in(s: AsyncSession, c: Council, meeting_id: int | None) -> Meeting | None:
    m = await s.get(Meeting, meeting_id) if meeting_id else None
    return m if m is not None and m.council_id == c.id else None


async def task_in(s: AsyncSession, c: Council, task_id: int | None) -> Task | None:
    t = await s.get(Task, task_id) if task_id else None
    return t if t is not None and t.council_id == c.id else None


async def vote_in(s: AsyncSession, m: Meeting, vote_id: int | None) -> Vote | None:
    v = await s.get(Vote, vote_id) if vote_id else None
    return v if v is not None and v.meeting_id == m.id else None


async def item_in(s: AsyncSession, m: Meeting, item_id: int | None) -> AgendaItem:
    it = await s.get(AgendaItem, item_id) if item_id else None
    if it is None or it.meeting_id != m.id:
        raise svc.not_found("agenda item")
    return it


async def topic_tasks(s: AsyncSession, t: Topic) -> list[Task]:
    return list((await s.execute(select(Task).where(Task.topic_id == t.id).order_by(Task.id))).scalars())


async def meeting_tasks(s: AsyncSession, m: Meeting) -> list[Task]:
    return list((await s.execute(select(Task).where(Task.meeting_id == m.id).order_by(Task.id))).scalars())


async def in_person_ids(s: AsyncSession, m: Meeting) -> set[int]:
    return set((await s.execute(select(Attendance.member_id).where(
        Attendance.meeting_id == m.id, Attendance.present.is_(True),
        Attendance.mode == rules.Attendance.IN_PERSON))).scalars())


async def case_code(s: AsyncSession, case_id: int) -> str | None:
    return (await session_link.codes_by_id(s, {case_id})).get(case_id)


async def topic_decision(s: AsyncSession, t: Topic) -> dict[str, Any] | None:
    """The closed votes on the agenda items that carried ``t`` (public: totals only), the last one's question."""
    items = select(AgendaItem.id).where(AgendaItem.topic_id == t.id)
    vs = list((await s.execute(select(Vote).where(Vote.item_id.in_(items), Vote.state == rules.VoteState.CLOSED)
                               .order_by(Vote.id))).scalars())
    if not vs:
        return None
    published = {m for m in (await s.execute(select(Meeting.id).where(
        Meeting.id.in_({v.meeting_id for v in vs}), Meeting.state == rules.MeetingState.PUBLISHED))).scalars()}
    shown = [v for v in vs if v.meeting_id in published]
    if not shown:
        return None
    return {"question": shown[-1].question, "votes": [await svc.vote_json(s, v, public=True) for v in shown]}


async def published_meetings(s: AsyncSession, c: Council) -> list[Meeting]:
    return list((await s.execute(select(Meeting).where(Meeting.council_id == c.id,
                                                      Meeting.state == rules.MeetingState.PUBLISHED)
                                 .order_by(Meeting.published_at.desc()))).scalars())


async def task_is_public(s: AsyncSession, t: Task) -> bool:
    """A task shows on the public pages (with its photo) once its meeting is published, or when it follows a
    topic (the topic's status page follows it to completion)."""
    if t.topic_id is not None:
        return True
    if t.meeting_id is None:
        return False
    m = await s.get(Meeting, t.meeting_id)
    return m is not None and m.state == rules.MeetingState.PUBLISHED


async def public_councils(s: AsyncSession, *, unit_code: str | None = None, public_code: str | None = None
                          ) -> list[tuple[Council, str]]:
    """The councils a resident may raise a topic with: of one council (its public code), of a unit and the
    neighbourhoods under it, or every council (the plain /councils/propose link)."""
    q = select(Council, Unit.name).join(Unit, Unit.id == Council.unit_id)
    if public_code:
        q = q.where(Council.public_code == public_code)
    elif unit_code:
        path = await unit_path_of(s, unit_code)
        if path is None:
            return []
        q = q.where(path_prefix(Unit.path, path))
    return [(c, n) for c, n in (await s.execute(q.order_by(Unit.path, Council.id).limit(200))).all()]


async def public_council(s: AsyncSession, council_id: int) -> Council:
    c = await s.get(Council, council_id)
    if c is None:
        raise svc.not_found("council")
    return c


async def put_on_agenda(s: AsyncSession, ctx: svc.Ctx, actor: Actor, m: Meeting, topic_id: int) -> AgendaItem:
    """A topic onto a meeting's agenda: one the convenor has not decided yet is accepted with it
    (``service.add_agenda_item``); one already accepted (from its topic page) gets its item here. Ledgered."""
    c = await svc.council_of(s, m)
    t = await topic_in(s, c, topic_id)
    if t is None:
        raise svc.not_found("topic")
    if t.state != rules.TopicState.ACCEPTED:
        return await svc.add_agenda_item(s, ctx, actor, m, title="", topic_id=t.id)
    await svc.require(s, actor, c, Action.MANAGE, access.Kind.MEETING)
    if m.state not in (rules.MeetingState.SCHEDULED, rules.MeetingState.OPEN):
        raise rules.CouncilError(svc.Kind.CONFLICT, "meeting_closed", "the meeting is over")
    existing = (await s.execute(select(AgendaItem).where(AgendaItem.meeting_id == m.id,
                                                         AgendaItem.topic_id == t.id))).scalars().first()
    if existing is not None:
        return existing
    item = await svc._add_item(s, m, t.title, t.id)
    await ledger_store.append(s, ledger.council_chain(c.id), "agenda_item_added",
                              {"meeting": m.id, "item": item.id, "title": item.title, "topic": t.id,
                               "by": {"id": actor.id, "name": actor.name, "unit": actor.unit_code}}, ctx.now)
    return item


async def set_current_item(s: AsyncSession, ctx: svc.Ctx, actor: Actor, m: Meeting, item_id: int | None) -> Meeting:
    """The convenor takes up an agenda item (managers, while the meeting is in session). Ledgered."""
    c = await svc.council_of(s, m)
    await svc.require(s, actor, c, Action.MANAGE, access.Kind.MEETING)
    if m.state != rules.MeetingState.OPEN:
        raise rules.CouncilError(svc.Kind.CONFLICT, "meeting_not_open", "the meeting is not in session")
    item = await item_in(s, m, item_id)
    m.current_item_id = item.id
    await ledger_store.append(s, ledger.council_chain(c.id), "item_current", {"meeting": m.id, "item": item.id,
                                                                              "by": {"id": actor.id}}, ctx.now)
    return m


async def set_gallery(s: AsyncSession, ctx: svc.Ctx, actor: Actor, m: Meeting, is_open: bool) -> Any:
    """The convenor opens or closes the meeting's public gallery (managers, before the meeting ends).
    Opening gives the room's shareable gallery link (``sessions.open_gallery``: a fresh observer pass per
    visitor); closing withdraws the link and every pass. Returns the link's invitation (None when closed).
    Ledgered on the council chain."""
    c = await svc.council_of(s, m)
    await svc.require(s, actor, c, Action.MANAGE, access.Kind.MEETING)
    if is_open and m.state == rules.MeetingState.CLOSED:
        raise rules.CouncilError(svc.Kind.CONFLICT, "meeting_closed", "the meeting is over")
    sess = await s.get(Session, m.session_id) if m.session_id else None
    inv = None
    if sess is not None:
        if is_open:
            unit = await s.get(Unit, sess.unit_id)
            assert unit is not None
            if sess.state not in sessions.JOINABLE_STATES:
                raise rules.CouncilError(svc.Kind.CONFLICT, "meeting_closed", "the meeting's room is closed")
            inv = await sessions.open_gallery(s, ctx.secret, actor, sess, unit, ctx.now)
        else:
            await sessions.close_gallery(s, actor, sess)
    m.gallery_open = is_open
    await ledger_store.append(s, ledger.council_chain(c.id), "gallery_opened" if is_open else "gallery_closed",
                              {"meeting": m.id, "by": {"id": actor.id}}, ctx.now)
    return inv


async def gallery_link(s: AsyncSession, m: Meeting) -> Any:
    """The open gallery's shareable invitation of the meeting's room, or None."""
    if not m.gallery_open or m.state == rules.MeetingState.CLOSED or not m.session_id:
        return None
    sess = await s.get(Session, m.session_id)
    if sess is None or sess.state not in sessions.JOINABLE_STATES:
        return None
    nonce = (sess.settings or {}).get(sessions.GALLERY_SETTING)
    if not nonce:
        return None
    inv = (await s.execute(select(Invitation).where(Invitation.nonce == nonce))).scalar_one_or_none()
    return None if inv is None or inv.revoked else inv


async def case_links(s: AsyncSession, actor: Actor, case_ref: str, now: Any) -> dict[str, Any] | None:
    """What the case page shows of councils (None when the actor does not see the case): the topics it raised,
    the topic it came from (a topic's 转为案件), whether it may raise a topic (not a restricted case: a
    domestic-violence case never becomes a public topic) and the councils the actor can raise one in."""
    case_id = await session_link.case_id_for(s, actor, case_ref, now)
    if case_id is None:
        return None
    facts = await access.case_facts(s, case_id, now)
    raised = list((await s.execute(select(Topic).where(Topic.case_id == case_id).order_by(Topic.id))).scalars())
    source = (await s.execute(select(Topic).where(Topic.spawned_case_id == case_id))).scalars().first()
    councils = [] if facts is None or facts.restricted else await svc.list_councils(s, actor)
    return {"case_id": case_id, "restricted": facts is None or facts.restricted,
            "raised": [{"council": t.council_id, "id": t.id, "title": t.title} for t in raised],
            "source": {"council": source.council_id, "id": source.id, "title": source.title} if source else None,
            "councils": [{"id": c.id, "name": c.name, "unit": u.name} for c, u in councils]}


async def topic_from_case(s: AsyncSession, ctx: svc.Ctx, actor: Actor, c: Council, case_ref: str, *, title: str,
                          body: str) -> Topic:
    """A case raises a topic (a dispute that is really a neighbourhood question), through the service. A
    restricted (domestic-violence) case never does: 403 ``case_restricted``, ledgered as a refusal by the
    caller's transaction."""
    case_id = await session_link.case_id_for(s, actor, case_ref, ctx.now)
    if case_id is None:
        raise svc.not_found("case")
    return await svc.propose_topic(s, ctx, c, title=title, body=body, proposer_name=actor.name, actor=actor,
                                   case_id=case_id)


async def speaking_limit(s: AsyncSession, session_id: int) -> float | None:
    """The speaking time of one turn (seconds) in the room of a council meeting in session, else None."""
    m = await svc.meeting_of_session(s, session_id)
    if m is None or m.state != rules.MeetingState.OPEN or not m.speaking_limit_s:
        return None
    return float(m.speaking_limit_s)
