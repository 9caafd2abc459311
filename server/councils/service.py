"""The council service layer: owns the council tables, used by the JSON API, the pages and the room.

Every function takes an ``AsyncSession`` inside the caller's transaction (``async with db.session()``) and a
:class:`Ctx` (the app clock's ``now`` and the server secret for keyed hashes). Staff actions take the
``Actor`` and check ``server.access.may`` on the council's :class:`~server.access.Record` (built by
:func:`record`); public (resident) actions take no actor and are the pages' to protect (CSRF, rate limits,
as intake). Refusals raise :class:`server.councils.rules.CouncilError` (a ``DomainError``: kind + code);
changes that matter are appended to the council's ledger chain (``council:<id>``) in the same transaction.

See docs/councils.md ("Service API") for the list the pages use.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access, ledger, ledger_store
from server.access import Action, Record
from server.cases import service as case_service
from server.cases import session_link
from server.cases.documents import sniff, write_atomically
from server.cases.queries import path_prefix
from server.clock import BEIJING
from server.councils import rules
from server.councils.models import (
    AgendaItem,
    Attendance,
    Ballot,
    Comment,
    Council,
    CouncilMember,
    Meeting,
    MemberCode,
    Support,
    Task,
    TaskNote,
    TaskPhoto,
    Topic,
    View,
    Vote,
    VoteMark,
)
from server.councils.rules import (
    CouncilError,
    MeetingState,
    MemberRole,
    QuorumRule,
    TaskState,
    TopicAction,
    TopicState,
    VoteState,
)
from server.db import Database
from server.directory.models import Staff, Unit
from server.directory.tiers import Tier
from server.failures import Kind
from server.policy import Actor
from server.security.uploads import UploadRefused, check_image
from server.sessions import service as sessions
from server.sessions.models import Invitation, Session

MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
COUNCIL_UNIT_TIERS = (Tier.VILLAGE, Tier.TOWNSHIP)  # a community/village, or a 街道 running one


@dataclass(frozen=True)
class Ctx:
    """``now`` from the app clock (aware UTC); ``secret`` keys the household and tablet-code hashes."""

    now: datetime
    secret: bytes

    @property
    def today(self) -> date:
        return self.now.astimezone(BEIJING).date()


@dataclass(frozen=True)
class Cast:
    """A counted ballot. ``receipt`` is the voter's code (secret votes; shown once, only its hash kept)."""

    vote_id: int
    receipt: str | None
    secret: bool


def not_found(what: str) -> CouncilError:
    return CouncilError(Kind.NOT_FOUND, "not_found", f"no such {what}")


def forbidden(message: str) -> CouncilError:
    return CouncilError(Kind.FORBIDDEN, "forbidden", message)


def _text(value: Any, name: str, limit: int, *, required: bool = True) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CouncilError(Kind.INVALID, "missing_field", f"missing field: {name}", field=name)
        return ""
    if not isinstance(value, str):
        raise CouncilError(Kind.INVALID, "invalid_field", f"{name} must be text", field=name)
    v = "".join(c for c in value.strip() if ord(c) >= 32 or c in "\n\t")
    if len(v) > limit:
        raise CouncilError(Kind.INVALID, "invalid_field", f"{name} has at most {limit} characters", field=name)
    return v


def _code() -> str:
    return secrets.token_urlsafe(9)[:12]


def _who(actor: Actor | None) -> dict[str, Any]:
    return {"public": True} if actor is None else {"id": actor.id, "name": actor.name, "unit": actor.unit_code}


async def _log(s: AsyncSession, ctx: Ctx, council_id: int, type: str, data: dict[str, Any]) -> ledger.Event:
    return await ledger_store.append(s, ledger.council_chain(council_id), type, data, ctx.now)


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def refusal(e: CouncilError, council_id: int, type: str, data: dict[str, Any]) -> CouncilError:
    """Mark a refusal to be ledgered on the council's chain by :func:`transaction` (after the rollback)."""
    e.ledger = (council_id, type, data)
    return e


@asynccontextmanager
async def transaction(db: Database, ctx: Ctx) -> AsyncIterator[AsyncSession]:
    """One transaction of council work (``db.session()``: committed on success, rolled back on error). A
    refusal marked by :func:`refusal` (a ballot outside the window, twice or by a non-member; a vote without
    quorum; a second signature from a household; a publication with personal data) is then appended to the
    council's chain in a transaction of its own, and re-raised. The API, the pages and the room use this."""
    try:
        async with db.session() as s:
            yield s
    except CouncilError as e:
        if e.ledger is not None:
            async with db.session() as s2:
                await _log(s2, ctx, *e.ledger)
        raise


# ---- access -----------------------------------------------------------------------------------------


async def record(s: AsyncSession, actor: Actor | None, council: Council, kind: access.Kind = access.Kind.COUNCIL
                 ) -> Record:
    """The access record of ``council`` (or of a topic/meeting/vote/task on it) for ``actor``: the council's
    unit path and the actor's own seats on it."""
    unit = await s.get(Unit, council.unit_id)
    assert unit is not None
    roles: frozenset[str] = frozenset()
    if actor is not None:
        roles = frozenset((await s.execute(select(CouncilMember.role).where(
            CouncilMember.council_id == council.id, CouncilMember.staff_id == actor.id,
            CouncilMember.active.is_(True)))).scalars())
    return Record(kind, unit.path, unit_code=unit.code, council_roles=roles)


async def require(s: AsyncSession, actor: Actor, council: Council, action: Action = Action.VIEW,
                  kind: access.Kind = access.Kind.COUNCIL) -> Record:
    """404 when the actor may not see the council, 403 when it may see but not do ``action``."""
    r = await record(s, actor, council, kind)
    if not access.sees(actor, r):
        raise not_found("council")
    if not access.may(actor, action, r):
        raise forbidden(f"your role may not {action} this {kind}")
    return r


async def get_council(s: AsyncSession, actor: Actor, council_id: int, action: Action = Action.VIEW,
                      kind: access.Kind = access.Kind.COUNCIL) -> Council:
    """The council, if the actor may do ``action`` on it (404 hidden or unknown; 403 seen but refused)."""
    c = await s.get(Council, council_id)
    if c is None:
        raise not_found("council")
    await require(s, actor, c, action, kind)
    return c


async def council_of(s: AsyncSession, obj: Topic | Meeting | Task) -> Council:
    c = await s.get(Council, obj.council_id)
    assert c is not None
    return c


async def _in_council(s: AsyncSession, actor: Actor, obj: Topic | Meeting | Task | None, council_id: int | None,
                      name: str, kind: access.Kind, action: Action) -> None:
    """The actor may do ``action`` on a record of a council; a record they may not see is "not found"."""
    if obj is None or council_id is None:
        raise not_found(name)
    c = await s.get(Council, council_id)
    assert c is not None
    try:
        await require(s, actor, c, action, kind)
    except CouncilError as e:
        raise not_found(name) if e.kind == Kind.NOT_FOUND else e from None


async def get_topic(s: AsyncSession, actor: Actor, topic_id: int, action: Action = Action.VIEW) -> Topic:
    t = await s.get(Topic, topic_id)
    await _in_council(s, actor, t, t.council_id if t else None, "topic", access.Kind.TOPIC, action)
    assert t is not None
    return t


async def get_meeting(s: AsyncSession, actor: Actor, meeting_id: int, action: Action = Action.VIEW) -> Meeting:
    m = await s.get(Meeting, meeting_id)
    await _in_council(s, actor, m, m.council_id if m else None, "meeting", access.Kind.MEETING, action)
    assert m is not None
    return m


async def get_vote(s: AsyncSession, actor: Actor, vote_id: int, action: Action = Action.VIEW) -> Vote:
    v = await s.get(Vote, vote_id)
    m = await s.get(Meeting, v.meeting_id) if v is not None else None
    await _in_council(s, actor, m, m.council_id if m else None, "vote", access.Kind.VOTE, action)
    assert v is not None
    return v


async def get_task(s: AsyncSession, actor: Actor, task_id: int, action: Action = Action.VIEW) -> Task:
    t = await s.get(Task, task_id)
    await _in_council(s, actor, t, t.council_id if t else None, "task", access.Kind.TASK, action)
    assert t is not None
    return t


# ---- councils and members ---------------------------------------------------------------------------


async def create_council(s: AsyncSession, ctx: Ctx, actor: Actor, *, unit_code: str, name: str,
                         neighbourhood: str = "", support_threshold: int = 10,
                         quorum: dict[str, Any] | None = None) -> Council:
    """A council for a village/community unit (or a 小区 under it: ``neighbourhood``). Staff of that unit
    (admin, mediator, grid worker) create it; ledgered ``council_created``."""
    unit = (await s.execute(select(Unit).where(Unit.code == unit_code))).scalar_one_or_none()
    if unit is None or not access.sees(actor, Record(access.Kind.UNIT, unit.path)):
        raise not_found("unit")
    if unit.tier not in COUNCIL_UNIT_TIERS:
        raise CouncilError(Kind.INVALID, "bad_unit", "a council belongs to a village/community or a township")
    if not access.council_manager(actor, Record(access.Kind.COUNCIL, unit.path)):
        raise forbidden("only the unit's own staff create its council")
    rule = QuorumRule.from_dict(quorum)
    if not isinstance(support_threshold, int) or not 0 <= support_threshold <= 10000:
        raise CouncilError(Kind.INVALID, "invalid_field", "support_threshold is 0 to 10000", field="support_threshold")
    c = Council(unit_id=unit.id, neighbourhood=_text(neighbourhood, "neighbourhood", 100, required=False),
                name=_text(name, "name", 200), public_code=_code(), support_threshold=support_threshold,
                quorum=rule.as_dict(), created_by=actor.id, created_at=ctx.now)
    s.add(c)
    await s.flush()
    await _log(s, ctx, c.id, "council_created", {"unit": unit.code, "name": c.name,
                                                 "neighbourhood": c.neighbourhood, "quorum": c.quorum,
                                                 "support_threshold": support_threshold, "by": _who(actor)})
    return c


async def list_councils(s: AsyncSession, actor: Actor) -> list[tuple[Council, Unit]]:
    """Councils the actor sees (their subtree, or a council they sit on), newest first."""
    mine = select(CouncilMember.council_id).where(CouncilMember.staff_id == actor.id, CouncilMember.active.is_(True))
    q = (select(Council, Unit).join(Unit, Council.unit_id == Unit.id)
         .where(access.scope_councils(actor, Council.unit_id, Council.id, mine)).order_by(Council.id.desc()))
    return [(c, u) for c, u in (await s.execute(q)).all()]


async def council_by_public_code(s: AsyncSession, code: str) -> Council:
    c = (await s.execute(select(Council).where(Council.public_code == code))).scalar_one_or_none()
    if c is None:
        raise not_found("council")
    return c


async def add_member(s: AsyncSession, ctx: Ctx, actor: Actor, council: Council, *, role: str, name: str,
                     term_start: date, term_end: date, staff_username: str | None = None,
                     phone: str | None = None, affiliation: str = "") -> CouncilMember:
    """Seat a member (managers only). A staff member is named by ``staff_username``; a resident by name and,
    optionally, mobile (kept only as an HMAC). Ledgered ``member_added`` (no phone)."""
    await require(s, actor, council, Action.MANAGE)
    r = rules.check_role(role)
    term = rules.Term(term_start, term_end)
    staff_id = None
    if staff_username:
        staff = (await s.execute(select(Staff).where(Staff.username == staff_username))).scalar_one_or_none()
        if staff is None or not staff.active:
            raise not_found("staff account")
        staff_id = staff.id
        name = name or staff.name
    key = rules.household_key(ctx.secret, f"council:{council.id}", phone) if phone else None
    nm = _text(name, "name", 100)
    rules.check_publishable(nm)
    if staff_id is not None and (await s.execute(select(CouncilMember.id).where(
            CouncilMember.council_id == council.id, CouncilMember.staff_id == staff_id,
            CouncilMember.active.is_(True)))).first():
        raise CouncilError(Kind.CONFLICT, "already_member", "this person already sits on the council")
    m = CouncilMember(council_id=council.id, role=r, name=nm, staff_id=staff_id, phone_key=key,
                      affiliation=_text(affiliation, "affiliation", 100, required=False), term_start=term.start,
                      term_end=term.end, active=True, joined_at=ctx.now)
    s.add(m)
    await s.flush()
    await _log(s, ctx, council.id, "member_added", {"member": m.id, "role": str(r), "name": nm, "staff_id": staff_id,
                                                    "term": [term.start.isoformat(), term.end.isoformat()],
                                                    "by": _who(actor)})
    return m


async def end_membership(s: AsyncSession, ctx: Ctx, actor: Actor, council: Council, member_id: int,
                         reason: str = "") -> CouncilMember:
    """A member leaves the council (managers only); the row stays, ``member_removed`` is ledgered."""
    await require(s, actor, council, Action.MANAGE)
    m = await s.get(CouncilMember, member_id)
    if m is None or m.council_id != council.id:
        raise not_found("member")
    if not m.active:
        raise CouncilError(Kind.CONFLICT, "not_active", "this member has already left")
    m.active, m.left_at = False, ctx.now
    await _log(s, ctx, council.id, "member_removed", {"member": m.id, "reason": _text(reason, "reason", 300, required=False),
                                                      "by": _who(actor)})
    return m


async def members(s: AsyncSession, council: Council, *, active_only: bool = True) -> list[CouncilMember]:
    q = select(CouncilMember).where(CouncilMember.council_id == council.id)
    if active_only:
        q = q.where(CouncilMember.active.is_(True))
    return list((await s.execute(q.order_by(CouncilMember.id))).scalars())


def as_rule_member(m: CouncilMember) -> rules.Member:
    return rules.Member(m.id, MemberRole(m.role), rules.Term(m.term_start, m.term_end), m.active)


# ---- topics -----------------------------------------------------------------------------------------


async def propose_topic(s: AsyncSession, ctx: Ctx, council: Council, *, title: str, body: str, proposer_name: str,
                        actor: Actor | None = None, case_id: int | None = None) -> Topic:
    """A new topic. ``actor`` None: a resident through the public page (the page adds CSRF and rate limits,
    as intake does); with an actor: staff who see the council, or members; ``case_id``: raised from a case
    the actor can see. The proposer's status page is ``/councils/t/<public_code>``. Ledgered."""
    source = "resident"
    if actor is not None:
        r = await require(s, actor, council)
        source = "member" if r.council_roles else "staff"
        if case_id is not None:
            facts = await access.case_facts(s, case_id, ctx.now)
            if facts is None or not access.case_visible(actor, facts):
                raise not_found("case")
            if facts.restricted:  # a protected (domestic-violence) case never becomes a public topic
                raise refusal(CouncilError(Kind.FORBIDDEN, "case_restricted",
                                           "a restricted case cannot raise a public topic"),
                              council.id, "topic_refused", {"reason": "case_restricted", "case_id": case_id,
                                                            "by": {"id": actor.id}})
            source = "case"
    t_title, t_body = _text(title, "title", 200), _text(body, "body", 4000, required=False)
    name = _text(proposer_name or (actor.name if actor else ""), "proposer_name", 100)
    rules.check_publishable(t_title, t_body, name)  # topics are public: no phone or ID number in them
    t = Topic(council_id=council.id, public_code=_code(), title=t_title, body=t_body, state=TopicState.PROPOSED,
              source=source, proposer_name=name, proposer_staff_id=actor.id if actor else None, case_id=case_id,
              reason="", supports=0, created_at=ctx.now, updated_at=ctx.now)
    s.add(t)
    await s.flush()
    await _log(s, ctx, council.id, "topic_proposed", {"topic": t.id, "title": t_title, "source": source,
                                                      "case_id": case_id, "by": _who(actor)})
    return t


async def topic_by_public_code(s: AsyncSession, code: str) -> Topic:
    t = (await s.execute(select(Topic).where(Topic.public_code == code))).scalar_one_or_none()
    if t is None:
        raise not_found("topic")
    return t


async def support_topic(s: AsyncSession, ctx: Ctx, topic: Topic, *, phone: str, name: str = "") -> Topic:
    """One household's signature, checked by mobile number: only HMAC(secret, topic, phone) is stored.
    A second signature from the same number is refused (``already_supported``) and ledgered. Reaching the
    council's threshold makes a proposed topic ``supported``."""
    rules.check_supportable(topic.state)
    key = rules.household_key(ctx.secret, f"topic:{topic.id}", phone)
    council = await council_of(s, topic)
    await ledger_store.lock_chain(s, ledger.council_chain(council.id))
    if (await s.execute(select(Support.id).where(Support.topic_id == topic.id, Support.household_key == key))).first():
        raise refusal(CouncilError(Kind.CONFLICT, "already_supported", "this household has already supported the topic"),
                      council.id, "support_refused", {"topic": topic.id, "reason": "already_supported"})
    s.add(Support(topic_id=topic.id, household_key=key, name=_text(name, "name", 100, required=False),
                  created_at=ctx.now))
    topic.supports += 1
    topic.updated_at = ctx.now
    before = topic.state
    topic.state = rules.after_support(topic.state, topic.supports, council.support_threshold)
    await s.flush()
    if topic.state != before:
        await _log(s, ctx, council.id, "topic_supported", {"topic": topic.id, "households": topic.supports})
    return topic


async def comment_topic(s: AsyncSession, ctx: Ctx, topic: Topic, *, author_name: str, body: str) -> Comment:
    """A comment on a topic (public page or staff). Refused if it would show a phone or ID number."""
    text, who = _text(body, "body", 2000), _text(author_name, "author_name", 100)
    rules.check_publishable(text, who)
    c = Comment(topic_id=topic.id, author_name=who, body=text, created_at=ctx.now)
    s.add(c)
    await s.flush()
    return c


async def decide_topic(s: AsyncSession, ctx: Ctx, actor: Actor, topic: Topic, action: str, *, reason: str = "",
                       merged_into: int | None = None, meeting_id: int | None = None) -> Topic:
    """The convenor's call (managers only): ``accept`` (onto the agenda of ``meeting_id`` if given), ``merge``
    (into ``merged_into``, same council) or ``decline`` (``reason`` shown on the status page). Ledgered."""
    council = await council_of(s, topic)
    await require(s, actor, council, Action.MANAGE, access.Kind.TOPIC)
    act = TopicAction(action) if action in {a.value for a in TopicAction} else None
    if act not in (TopicAction.ACCEPT, TopicAction.MERGE, TopicAction.DECLINE):
        raise CouncilError(Kind.INVALID, "invalid_field", "action is accept, merge or decline", field="action")
    if act == TopicAction.MERGE and merged_into is not None:
        other = await s.get(Topic, merged_into)
        if other is None or other.council_id != council.id or other.state in rules.FINAL_TOPIC_STATES:
            raise CouncilError(Kind.INVALID, "merge_target", "merge into an open topic of the same council")
    topic.state = rules.advance_topic(topic.state, act, reason=reason, merged_into=merged_into, topic_id=topic.id)
    topic.updated_at = ctx.now
    if act == TopicAction.DECLINE:
        rules.check_publishable(reason)
        topic.reason = reason.strip()
    if act == TopicAction.MERGE:
        topic.merged_into = merged_into
    if act == TopicAction.ACCEPT and meeting_id is not None:
        m = await s.get(Meeting, meeting_id)
        if m is None or m.council_id != council.id:
            raise not_found("meeting")
        await _add_item(s, m, topic.title, topic.id)
    await _log(s, ctx, council.id, f"topic_{act.value}ed" if act != TopicAction.DECLINE else "topic_declined",
               {"topic": topic.id, "state": topic.state, "reason": topic.reason or None, "merged_into": merged_into,
                "meeting": meeting_id, "by": _who(actor)})
    return topic


async def spawn_case(s: AsyncSession, ctx: Ctx, actor: Actor, topic: Topic) -> int:
    """A topic that is really a dispute becomes a case (managers): registered at the council's unit with the
    topic's title and text, linked both ways (``topic.spawned_case_id``; the case's summary names the topic).
    Returns the case id; ledgered ``topic_spawned_case``. 409 ``already_spawned`` the second time."""
    council = await council_of(s, topic)
    await require(s, actor, council, Action.MANAGE, access.Kind.TOPIC)
    if topic.spawned_case_id is not None:
        raise CouncilError(Kind.CONFLICT, "already_spawned", "this topic already has its case")
    unit = await unit_of(s, council)
    case = await case_service.register(s, case_service.Ctx(ctx.now, ctx.secret), actor, case_service.CaseDraft(
        unit_code=unit.code, title=topic.title,
        summary=f"{topic.body}\n\n（由议事会议题转入 / from council topic {topic.public_code}）".strip()))
    topic.spawned_case_id = case.id
    topic.updated_at = ctx.now
    await _log(s, ctx, council.id, "topic_spawned_case", {"topic": topic.id, "case_id": case.id, "by": _who(actor)})
    return case.id


async def topics(s: AsyncSession, council: Council, *, state: str | None = None) -> list[Topic]:
    q = select(Topic).where(Topic.council_id == council.id)
    if state:
        q = q.where(Topic.state == TopicState(state))
    return list((await s.execute(q.order_by(Topic.id.desc()))).scalars())


async def comments(s: AsyncSession, topic: Topic) -> list[Comment]:
    return list((await s.execute(select(Comment).where(Comment.topic_id == topic.id).order_by(Comment.id))).scalars())


# ---- meetings ---------------------------------------------------------------------------------------


async def _add_item(s: AsyncSession, m: Meeting, title: str, topic_id: int | None) -> AgendaItem:
    pos = (await s.execute(select(func.count()).select_from(AgendaItem).where(AgendaItem.meeting_id == m.id))).scalar_one()
    item = AgendaItem(meeting_id=m.id, position=int(pos) + 1, title=title, topic_id=topic_id)
    s.add(item)
    await s.flush()
    return item


async def schedule_meeting(s: AsyncSession, ctx: Ctx, actor: Actor, council: Council, *, title: str, place: str,
                           scheduled_at: datetime, quorum: dict[str, Any] | None = None,
                           gallery_open: bool = False, speaking_limit_s: int = 180, room: bool = True) -> Meeting:
    """A meeting (managers only) with its place and quorum rule (default: the council's). ``room``: a live
    room is created, a session of kind ``council`` hosted by the actor (members join by invitation).
    Ledgered ``meeting_scheduled``."""
    await require(s, actor, council, Action.MANAGE, access.Kind.MEETING)
    rule = QuorumRule.from_dict(quorum) if quorum else QuorumRule.from_dict(council.quorum)
    if not 30 <= speaking_limit_s <= 1800:
        raise CouncilError(Kind.INVALID, "invalid_field", "speaking_limit_s is 30 to 1800", field="speaking_limit_s")
    m = Meeting(council_id=council.id, title=_text(title, "title", 200), place=_text(place, "place", 200),
                scheduled_at=scheduled_at, state=MeetingState.SCHEDULED, quorum=rule.as_dict(),
                gallery_open=bool(gallery_open), speaking_limit_s=speaking_limit_s, minutes="",
                created_by=actor.id, created_at=ctx.now)
    if room:
        unit = await s.get(Unit, council.unit_id)
        assert unit is not None
        sess, _ = await sessions.create_session(s, actor, kind="council", title=m.title, unit_code=unit.code,
                                                case_id=None, scheduled_at=scheduled_at, now=ctx.now,
                                                cases=session_link)
        m.session_id = sess.id
    s.add(m)
    await s.flush()
    await _log(s, ctx, council.id, "meeting_scheduled", {"meeting": m.id, "title": m.title, "place": m.place,
                                                         "at": iso(scheduled_at), "quorum": m.quorum,
                                                         "session": m.session_id, "by": _who(actor)})
    return m


async def add_agenda_item(s: AsyncSession, ctx: Ctx, actor: Actor, meeting: Meeting, *, title: str,
                          topic_id: int | None = None) -> AgendaItem:
    """An agenda item (managers, before the meeting closes). With ``topic_id`` the topic is accepted."""
    council = await council_of(s, meeting)
    await require(s, actor, council, Action.MANAGE, access.Kind.MEETING)
    if meeting.state not in (MeetingState.SCHEDULED, MeetingState.OPEN):
        raise CouncilError(Kind.CONFLICT, "meeting_closed", "the meeting is over")
    if topic_id is not None:
        t = await s.get(Topic, topic_id)
        if t is None or t.council_id != council.id:
            raise not_found("topic")
        await decide_topic(s, ctx, actor, t, "accept", meeting_id=meeting.id)
        item = (await s.execute(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id,
                                                         AgendaItem.topic_id == t.id))).scalar_one()
        return item
    item = await _add_item(s, meeting, _text(title, "title", 200), None)
    await _log(s, ctx, council.id, "agenda_item_added", {"meeting": meeting.id, "item": item.id, "title": item.title})
    return item


async def agenda(s: AsyncSession, meeting: Meeting) -> list[AgendaItem]:
    return list((await s.execute(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
                                 .order_by(AgendaItem.position))).scalars())


async def meetings(s: AsyncSession, council: Council) -> list[Meeting]:
    return list((await s.execute(select(Meeting).where(Meeting.council_id == council.id)
                                 .order_by(Meeting.scheduled_at.desc()))).scalars())


async def move_meeting(s: AsyncSession, ctx: Ctx, actor: Actor, meeting: Meeting, action: str) -> Meeting:
    """``open`` or ``close`` the meeting (managers). Closing closes any vote still open. Ledgered."""
    council = await council_of(s, meeting)
    await require(s, actor, council, Action.MANAGE, access.Kind.MEETING)
    if action not in ("open", "close"):
        raise CouncilError(Kind.INVALID, "invalid_field", "action is open or close", field="action")
    meeting.state = rules.advance_meeting(meeting.state, action)
    if action == "open":
        meeting.opened_at = ctx.now
    else:
        meeting.closed_at = ctx.now
        for v in (await s.execute(select(Vote).where(Vote.meeting_id == meeting.id,
                                                     Vote.state == VoteState.OPEN))).scalars():
            await close_vote(s, ctx, actor, v)
    await _log(s, ctx, council.id, f"meeting_{action}ed" if action == "open" else "meeting_closed",
               {"meeting": meeting.id, "by": _who(actor)})
    return meeting


async def issue_member_codes(s: AsyncSession, ctx: Ctx, actor: Actor, meeting: Meeting) -> dict[int, dict[str, Any]]:
    """For every voting member: a room invitation (role ``party``, the ``code`` identity check) and the same
    6-digit code for the shared tablet. Returns member id -> {"code", "invitation_id", "url"}; the codes are
    shown once (only HMACs are kept). Issuing again replaces a member's code. Managers only."""
    council = await council_of(s, meeting)
    await require(s, actor, council, Action.MANAGE, access.Kind.MEETING)
    if meeting.state not in (MeetingState.SCHEDULED, MeetingState.OPEN):
        raise CouncilError(Kind.CONFLICT, "meeting_closed", "the meeting is over")
    out: dict[int, dict[str, Any]] = {}
    sess = await s.get(Session, meeting.session_id) if meeting.session_id else None
    unit = await s.get(Unit, council.unit_id)
    for m in await members(s, council):
        if not as_rule_member(m).may_vote(ctx.today):
            continue
        entry: dict[str, Any] = {"name": m.name, "role": m.role}
        code = rules.new_member_code()
        if sess is not None and unit is not None and sess.state in sessions.JOINABLE_STATES:
            inv, inv_code = await sessions.create_invitation(
                s, ctx.secret, actor, sess, unit, role="party", name=m.name, username=None, check_method="code",
                check_value=None, ttl_s=None, at=ctx.now)
            assert inv_code is not None
            code = inv_code
            entry.update(invitation_id=inv.id, url=sessions.join_url(sessions.invitation_token(ctx.secret, inv)))
        await s.execute(delete(MemberCode).where(MemberCode.meeting_id == meeting.id, MemberCode.member_id == m.id))
        s.add(MemberCode(meeting_id=meeting.id, member_id=m.id, invitation_id=entry.get("invitation_id"),
                         code_hash=rules.code_hash(ctx.secret, meeting.id, code)))
        entry["code"] = code
        out[m.id] = entry
    await s.flush()
    await _log(s, ctx, council.id, "member_codes_issued", {"meeting": meeting.id, "members": sorted(out),
                                                           "by": _who(actor)})
    return out


async def meeting_of_session(s: AsyncSession, session_id: int) -> Meeting | None:
    """The council meeting held in a room (session of kind ``council``)."""
    return (await s.execute(select(Meeting).where(Meeting.session_id == session_id))).scalars().first()


async def member_by_identity(s: AsyncSession, meeting: Meeting, identity: str) -> CouncilMember | None:
    """The member behind a room peer: ``inv:<nonce>`` (the member's invitation for this meeting, from
    ``issue_member_codes``) or ``staff:<id>`` (a staff account holding a seat). None for anyone else."""
    council = await council_of(s, meeting)
    if identity.startswith("inv:"):
        inv = (await s.execute(select(Invitation).where(Invitation.nonce == identity[4:]))).scalar_one_or_none()
        if inv is None or inv.session_id != meeting.session_id or inv.revoked:
            return None
        mid = (await s.execute(select(MemberCode.member_id).where(
            MemberCode.meeting_id == meeting.id, MemberCode.invitation_id == inv.id))).scalar_one_or_none()
        m = await s.get(CouncilMember, mid) if mid is not None else None
    elif identity.startswith("staff:") and identity[6:].isdigit():
        m = (await s.execute(select(CouncilMember).where(
            CouncilMember.council_id == council.id, CouncilMember.staff_id == int(identity[6:]),
            CouncilMember.active.is_(True)))).scalars().first()
    else:
        return None
    return m if m is not None and m.council_id == council.id and m.active else None


async def record_attendance(s: AsyncSession, ctx: Ctx, actor: Actor | None, meeting: Meeting, member_id: int, *,
                            mode: str, present: bool = True) -> Attendance:
    """Mark a member present (``in_person`` at the table or ``online`` in the room) or gone. ``actor`` None:
    the room itself (a member's invitation joined). Managers otherwise."""
    council = await council_of(s, meeting)
    if actor is not None:
        await require(s, actor, council, Action.MANAGE, access.Kind.MEETING)
    if mode not in (rules.Attendance.IN_PERSON, rules.Attendance.ONLINE):
        raise CouncilError(Kind.INVALID, "invalid_field", "mode is in_person or online", field="mode")
    m = await s.get(CouncilMember, member_id)
    if m is None or m.council_id != council.id or not m.active:
        raise not_found("member")
    if meeting.state not in (MeetingState.SCHEDULED, MeetingState.OPEN):
        raise CouncilError(Kind.CONFLICT, "meeting_closed", "the meeting is over")
    a = await s.get(Attendance, (meeting.id, member_id))
    if a is None:
        a = Attendance(meeting_id=meeting.id, member_id=member_id, mode=mode, present=present, arrived_at=ctx.now)
        s.add(a)
    else:
        a.mode, a.present = mode, present
        a.left_at = None if present else ctx.now
    await s.flush()
    return a


async def attendance_summary(s: AsyncSession, meeting: Meeting, day: date | None = None) -> dict[str, Any]:
    """``{"members", "present", "in_person", "online", "quorum_needed", "quorate", "attendees": [...]}``: the
    voting members and who of them is present now (what the room and the page show live)."""
    council = await council_of(s, meeting)
    ms = {m.id: m for m in await members(s, council)}
    when = day or meeting.scheduled_at.astimezone(BEIJING).date()
    entitled = rules.voters([as_rule_member(m) for m in ms.values()], when)
    rows = list((await s.execute(select(Attendance).where(Attendance.meeting_id == meeting.id,
                                                          Attendance.present.is_(True)))).scalars())
    here = [a for a in rows if a.member_id in entitled]
    rule = QuorumRule.from_dict(meeting.quorum)
    return {"members": len(entitled), "present": len(here),
            "in_person": sum(1 for a in here if a.mode == rules.Attendance.IN_PERSON),
            "online": sum(1 for a in here if a.mode == rules.Attendance.ONLINE),
            "quorum_needed": rule.needed(len(entitled)), "quorate": rule.met(len(entitled), len(here)),
            "attendees": [{"member": a.member_id, "name": ms[a.member_id].name if a.member_id in ms else "",
                           "role": ms[a.member_id].role if a.member_id in ms else "", "mode": a.mode}
                          for a in rows]}


async def record_view(s: AsyncSession, ctx: Ctx, actor: Actor, item_id: int, *, body: str,
                      member_id: int | None = None, speaker: str = "") -> View:
    """A view recorded on an agenda item (managers: the convenor or the minute-taker)."""
    item = await s.get(AgendaItem, item_id)
    if item is None:
        raise not_found("agenda item")
    meeting = await s.get(Meeting, item.meeting_id)
    assert meeting is not None
    council = await council_of(s, meeting)
    await require(s, actor, council, Action.MANAGE, access.Kind.MEETING)
    name = speaker
    if member_id is not None:
        mem = await s.get(CouncilMember, member_id)
        if mem is None or mem.council_id != council.id:
            raise not_found("member")
        name = mem.name
    v = View(item_id=item.id, member_id=member_id, speaker=_text(name, "speaker", 100),
             body=_text(body, "body", 4000), created_at=ctx.now)
    s.add(v)
    await s.flush()
    return v


async def views(s: AsyncSession, meeting: Meeting) -> list[View]:
    ids = select(AgendaItem.id).where(AgendaItem.meeting_id == meeting.id)
    return list((await s.execute(select(View).where(View.item_id.in_(ids)).order_by(View.id))).scalars())


# ---- votes ------------------------------------------------------------------------------------------


def vote_facts(v: Vote) -> rules.VoteFacts:
    return rules.VoteFacts(VoteState(v.state), v.secret, v.opens_at, v.closes_at)


async def _meeting_council(s: AsyncSession, v: Vote) -> tuple[Meeting, Council]:
    m = await s.get(Meeting, v.meeting_id)
    assert m is not None
    return m, await council_of(s, m)


async def create_vote(s: AsyncSession, ctx: Ctx, actor: Actor, item_id: int, *, question: str, secret: bool,
                      window_s: int = 300) -> Vote:
    """A vote on an agenda item, in ``draft`` (managers). Open or secret is fixed when it opens."""
    item = await s.get(AgendaItem, item_id)
    if item is None:
        raise not_found("agenda item")
    meeting = await s.get(Meeting, item.meeting_id)
    assert meeting is not None
    council = await council_of(s, meeting)
    await require(s, actor, council, Action.MANAGE, access.Kind.VOTE)
    if meeting.state not in (MeetingState.SCHEDULED, MeetingState.OPEN):
        raise CouncilError(Kind.CONFLICT, "meeting_closed", "the meeting is over")
    rules.check_window(timedelta(seconds=window_s))
    v = Vote(meeting_id=meeting.id, item_id=item.id, question=_text(question, "question", 300), secret=bool(secret),
             state=VoteState.DRAFT, window_s=window_s, members=0, present=0)
    s.add(v)
    await s.flush()
    await _log(s, ctx, council.id, "vote_created", {"vote": v.id, "meeting": meeting.id, "item": item.id,
                                                    "question": v.question, "secret": v.secret, "by": _who(actor)})
    return v


async def set_secrecy(s: AsyncSession, ctx: Ctx, actor: Actor, vote: Vote, secret: bool) -> Vote:
    """Change open/secret while the vote is a draft (``vote_started`` after)."""
    _, council = await _meeting_council(s, vote)
    await require(s, actor, council, Action.MANAGE, access.Kind.VOTE)
    rules.check_secrecy_change(vote.state)
    vote.secret = bool(secret)
    await _log(s, ctx, council.id, "vote_secrecy", {"vote": vote.id, "secret": vote.secret, "by": _who(actor)})
    return vote


async def open_vote(s: AsyncSession, ctx: Ctx, actor: Actor, vote: Vote) -> Vote:
    """Open the voting window (managers; the meeting must be open and quorate). A refusal for want of a
    quorum is ledgered (``vote_refused``) and raised (``no_quorum``); a closed vote never reopens."""
    meeting, council = await _meeting_council(s, vote)
    await require(s, actor, council, Action.MANAGE, access.Kind.VOTE)
    if meeting.state != MeetingState.OPEN:
        raise CouncilError(Kind.CONFLICT, "meeting_not_open", "votes are taken while the meeting is in session")
    summary = await attendance_summary(s, meeting, ctx.today)
    try:
        rules.check_open(vote.state, members=summary["members"], present=summary["present"],
                         rule=QuorumRule.from_dict(meeting.quorum))
    except CouncilError as e:
        if e.code == "no_quorum":  # the refusal stays on the ledger though the request fails
            raise refusal(e, council.id, "vote_refused", {"vote": vote.id, "reason": "no_quorum",
                                                          "members": summary["members"],
                                                          "present": summary["present"],
                                                          "needed": summary["quorum_needed"]}) from None
        raise
    vote.state = VoteState.OPEN
    vote.opens_at = ctx.now
    vote.closes_at = ctx.now + timedelta(seconds=vote.window_s)
    vote.members, vote.present = summary["members"], summary["present"]
    await _log(s, ctx, council.id, "vote_opened", {"vote": vote.id, "secret": vote.secret, "members": vote.members,
                                                   "present": vote.present, "closes_at": iso(vote.closes_at),
                                                   "by": _who(actor)})
    return vote


async def cast_ballot(s: AsyncSession, ctx: Ctx, vote: Vote, member_id: int | None, choice: str, *,
                      channel: str) -> Cast:
    """Count one member's ballot (``channel``: room, tablet or http). Refusals (``not_member``,
    ``outside_window``, ``already_voted``, ``bad_choice``) are ledgered ``ballot_refused`` (without the
    choice) and raised. A secret vote stores the mark (vote, member) and the ballot (random id, vote, choice,
    H(receipt)) in two unrelated tables and returns the receipt code; an open vote keeps the choice on the
    mark as well. Nothing is ledgered per accepted ballot (the ledger's order would link it to its voter);
    the tally goes to the ledger when the vote closes. A vote past its window is closed by
    :func:`close_expired_votes` (run it in its own transaction first: a refusal rolls this one back)."""
    meeting, council = await _meeting_council(s, vote)
    chain = ledger.council_chain(council.id)
    await ledger_store.lock_chain(s, chain)  # serialises ballots of one council on PostgreSQL
    member = await s.get(CouncilMember, member_id) if member_id is not None else None
    if member is not None and member.council_id != council.id:
        member = None
    already = member is not None and await s.get(VoteMark, (vote.id, member.id)) is not None
    try:
        ch = rules.check_choice(choice)
        rules.check_ballot(vote_facts(vote), ctx.now, member=as_rule_member(member) if member else None,
                           day=ctx.today, already=already)
    except CouncilError as e:
        raise refusal(e, council.id, "ballot_refused", {"vote": vote.id, "member": member_id, "reason": e.code,
                                                        "channel": channel}) from None
    assert member is not None
    receipt = rules.new_receipt()
    await s.execute(insert(VoteMark).values(vote_id=vote.id, member_id=member.id,
                                            choice=None if vote.secret else str(ch), channel=channel))
    await s.execute(insert(Ballot).values(id=rules.new_ballot_id(), vote_id=vote.id, choice=str(ch),
                                          receipt_hash=rules.receipt_hash(vote.id, receipt)))
    return Cast(vote.id, receipt if vote.secret else None, vote.secret)


async def cast_with_code(s: AsyncSession, ctx: Ctx, actor: Actor, vote: Vote, code: str, choice: str) -> Cast:
    """The shared tablet at the table: signed in as a manager, a member enters their 6-digit code and votes.
    A wrong code is ``not_member`` (ledgered)."""
    meeting, council = await _meeting_council(s, vote)
    await require(s, actor, council, Action.MANAGE, access.Kind.VOTE)
    h = rules.code_hash(ctx.secret, meeting.id, str(code or ""))
    mc = (await s.execute(select(MemberCode).where(MemberCode.meeting_id == meeting.id,
                                                   MemberCode.code_hash == h))).scalar_one_or_none()
    return await cast_ballot(s, ctx, vote, mc.member_id if mc else None, choice, channel="tablet")


async def cast_as_staff(s: AsyncSession, ctx: Ctx, actor: Actor, vote: Vote, choice: str) -> Cast:
    """A staff account that sits on the council votes for itself over HTTP."""
    _, council = await _meeting_council(s, vote)
    r = await require(s, actor, council, Action.VIEW, access.Kind.VOTE)
    mid = (await s.execute(select(CouncilMember.id).where(
        CouncilMember.council_id == council.id, CouncilMember.staff_id == actor.id,
        CouncilMember.active.is_(True), CouncilMember.role.in_(access.COUNCIL_VOTING_ROLES)))).scalar()
    if not access.may(actor, Action.VOTE, r):
        mid = None
    return await cast_ballot(s, ctx, vote, mid, choice, channel="http")


async def close_vote(s: AsyncSession, ctx: Ctx, actor: Actor | None, vote: Vote) -> Vote:
    """Close the window (managers, or ``actor`` None when the window has passed), tally the ballots, apply the
    quorum and passing rules and ledger ``vote_closed`` with tally, quorum and result (and, for a secret vote,
    the sorted receipt hashes). A secret vote's ballots are rewritten in shuffled order. A passed vote on a
    topic makes it ``decided``; a failed one ``rejected``."""
    meeting, council = await _meeting_council(s, vote)
    if actor is not None:
        await require(s, actor, council, Action.MANAGE, access.Kind.VOTE)
    rules.check_close(vote.state)
    rows = list((await s.execute(select(Ballot.id, Ballot.choice, Ballot.receipt_hash)
                                 .where(Ballot.vote_id == vote.id))).all())
    t = rules.tally(ch for _, ch, _ in rows)
    marks = int((await s.execute(select(func.count()).select_from(VoteMark)
                                 .where(VoteMark.vote_id == vote.id))).scalar_one())
    assert marks == t.cast, "every mark has exactly one ballot"
    res = rules.result(t, QuorumRule.from_dict(meeting.quorum), vote.members, vote.present)
    if vote.secret and rows:
        # Storage order must not follow arrival order: rewrite the vote's ballots shuffled (new random ids).
        shuffled = [{"id": rules.new_ballot_id(), "vote_id": vote.id, "choice": ch, "receipt_hash": h}
                    for _, ch, h in rows]
        random.SystemRandom().shuffle(shuffled)
        await s.execute(delete(Ballot).where(Ballot.vote_id == vote.id))
        await s.execute(insert(Ballot), shuffled)
    vote.state = VoteState.CLOSED
    vote.closed_at = ctx.now
    vote.result = res.as_dict()
    data: dict[str, Any] = {"vote": vote.id, "meeting": meeting.id, "item": vote.item_id, "secret": vote.secret,
                            **res.as_dict(), "by": _who(actor) if actor else {"system": "window"}}
    if vote.secret:
        data["receipts"] = sorted(h for _, _, h in rows)
    else:
        data["ballots"] = {str(mid): ch for mid, ch in (await s.execute(
            select(VoteMark.member_id, VoteMark.choice).where(VoteMark.vote_id == vote.id)
            .order_by(VoteMark.member_id))).all()}
    await _log(s, ctx, council.id, "vote_closed", data)
    item = await s.get(AgendaItem, vote.item_id)
    if item is not None and item.topic_id is not None and res.outcome != rules.Outcome.NO_QUORUM:
        topic = await s.get(Topic, item.topic_id)
        if topic is not None and topic.state == TopicState.ACCEPTED:
            act = TopicAction.DECIDE if res.outcome == rules.Outcome.PASSED else TopicAction.REJECT
            topic.state = rules.advance_topic(topic.state, act)
            topic.updated_at = ctx.now
            await _log(s, ctx, council.id, "topic_" + ("decided" if act == TopicAction.DECIDE else "rejected"),
                       {"topic": topic.id, "vote": vote.id})
    return vote


async def close_expired_votes(s: AsyncSession, ctx: Ctx) -> list[Vote]:
    """Close every open vote whose window has passed (the sweeper; idempotent)."""
    out = []
    for v in (await s.execute(select(Vote).where(Vote.state == VoteState.OPEN, Vote.closes_at <= ctx.now))).scalars():
        out.append(await close_vote(s, ctx, None, v))
    return out


async def votes(s: AsyncSession, meeting: Meeting) -> list[Vote]:
    return list((await s.execute(select(Vote).where(Vote.meeting_id == meeting.id).order_by(Vote.id))).scalars())


async def vote_json(s: AsyncSession, vote: Vote, *, public: bool = False) -> dict[str, Any]:
    """A vote as shown: state, window, counts; once closed the result. An open vote lists who voted what
    (names, unless ``public``: then totals only); a secret vote never does, and lists the receipt hashes
    (sorted) so voters can check theirs."""
    out: dict[str, Any] = {"id": vote.id, "meeting": vote.meeting_id, "item": vote.item_id, "question": vote.question,
                           "secret": vote.secret, "state": vote.state, "window_s": vote.window_s,
                           "opens_at": iso(vote.opens_at), "closes_at": iso(vote.closes_at),
                           "closed_at": iso(vote.closed_at), "result": vote.result}
    voted = int((await s.execute(select(func.count()).select_from(VoteMark)
                                 .where(VoteMark.vote_id == vote.id))).scalar_one())
    out["voted"] = voted
    if vote.state == VoteState.CLOSED:
        if vote.secret:
            out["receipts"] = sorted((await s.execute(select(Ballot.receipt_hash)
                                                      .where(Ballot.vote_id == vote.id))).scalars())
        elif not public:
            out["ballots"] = [{"member": mid, "name": name, "choice": ch} for mid, name, ch in (await s.execute(
                select(VoteMark.member_id, CouncilMember.name, VoteMark.choice)
                .join(CouncilMember, CouncilMember.id == VoteMark.member_id)
                .where(VoteMark.vote_id == vote.id).order_by(CouncilMember.id))).all()]
    return out


async def check_receipt(s: AsyncSession, vote: Vote, code: str) -> bool:
    """Whether the ballot behind a receipt code is among the counted ballots of ``vote``."""
    h = rules.receipt_hash(vote.id, code)
    return (await s.execute(select(Ballot.id).where(Ballot.vote_id == vote.id, Ballot.receipt_hash == h))).first() \
        is not None


# ---- tasks ------------------------------------------------------------------------------------------


async def create_task(s: AsyncSession, ctx: Ctx, actor: Actor, council: Council, *, title: str, owner_name: str,
                      deadline: date, description: str = "", vote_id: int | None = None,
                      topic_id: int | None = None, owner_member_id: int | None = None) -> Task:
    """A task from a decision (managers): owner, deadline, description. Ledgered ``task_created``."""
    await require(s, actor, council, Action.MANAGE, access.Kind.TASK)
    if deadline < ctx.today:
        raise CouncilError(Kind.INVALID, "invalid_field", "the deadline is in the past", field="deadline")
    if vote_id is not None:
        v = await s.get(Vote, vote_id)
        m = await s.get(Meeting, v.meeting_id) if v else None
        if v is None or m is None or m.council_id != council.id:
            raise not_found("vote")
        if (v.result or {}).get("outcome") != rules.Outcome.PASSED:
            raise CouncilError(Kind.CONFLICT, "not_decided", "tasks follow a vote that passed")
        if topic_id is None:
            item = await s.get(AgendaItem, v.item_id)
            topic_id = item.topic_id if item else None
    meeting_id = m.id if vote_id is not None and m is not None else None
    if topic_id is not None:
        t = await s.get(Topic, topic_id)
        if t is None or t.council_id != council.id:
            raise not_found("topic")
    if owner_member_id is not None:
        om = await s.get(CouncilMember, owner_member_id)
        if om is None or om.council_id != council.id:
            raise not_found("member")
    task = Task(council_id=council.id, meeting_id=meeting_id, vote_id=vote_id, topic_id=topic_id,
                title=_text(title, "title", 200), description=_text(description, "description", 4000, required=False),
                owner_name=_text(owner_name, "owner_name", 100), owner_member_id=owner_member_id, deadline=deadline,
                state=TaskState.OPEN, done_note="", created_at=ctx.now)
    s.add(task)
    await s.flush()
    await _log(s, ctx, council.id, "task_created", {"task": task.id, "title": task.title, "owner": task.owner_name,
                                                    "deadline": deadline.isoformat(), "vote": vote_id,
                                                    "topic": topic_id, "by": _who(actor)})
    return task


def photo_path(data_dir: Path, council_id: int, sha256: str, ext: str) -> Path:
    return data_dir / "councils" / str(council_id) / f"{sha256}.{ext}"


async def add_task_photo(s: AsyncSession, ctx: Ctx, actor: Actor, task: Task, data: bytes, data_dir: Path
                         ) -> TaskPhoto:
    """A photo as proof (JPEG/PNG/WebP by their bytes, at most 10 MB), by managers. Ledgered with its SHA-256."""
    council = await council_of(s, task)
    await require(s, actor, council, Action.MANAGE, access.Kind.TASK)
    if len(data) > MAX_PHOTO_BYTES:
        raise CouncilError(Kind.TOO_LARGE, "too_large", "a photo has at most 10 MB")
    ftype = sniff(data[:16])
    if ftype is None or ftype.content_type not in PHOTO_TYPES:
        raise CouncilError(Kind.UNSUPPORTED, "unsupported_type", "a proof is a JPEG, PNG or WebP photo")
    try:
        check_image(data)
    except UploadRefused as e:
        raise CouncilError(e.kind, e.code, str(e)) from None
    digest = hashlib.sha256(data).hexdigest()
    path = photo_path(data_dir, council.id, digest, ftype.ext)
    if not path.exists():
        write_atomically(path, data)
    p = TaskPhoto(task_id=task.id, path=str(path.relative_to(data_dir)), sha256=digest,
                  content_type=ftype.content_type, bytes=len(data), uploaded_by=actor.id, created_at=ctx.now)
    s.add(p)
    await s.flush()
    await _log(s, ctx, council.id, "task_photo", {"task": task.id, "photo": p.id, "sha256": digest,
                                                  "by": _who(actor)})
    return p


async def task_photo(s: AsyncSession, photo_id: int, data_dir: Path) -> tuple[TaskPhoto, Path]:
    p = await s.get(TaskPhoto, photo_id)
    if p is None:
        raise not_found("photo")
    path = (data_dir / p.path).resolve()
    if not path.is_relative_to(data_dir.resolve()) or not path.exists():
        raise not_found("photo")
    return p, path


async def complete_task(s: AsyncSession, ctx: Ctx, actor: Actor, task: Task, note: str = "") -> Task:
    """Done, with at least one photo (``photo_required``). When every task of a decided topic is done, the
    topic is ``resolved``. Ledgered ``task_done`` (on time or not)."""
    council = await council_of(s, task)
    await require(s, actor, council, Action.MANAGE, access.Kind.TASK)
    n = int((await s.execute(select(func.count()).select_from(TaskPhoto).where(TaskPhoto.task_id == task.id))).scalar_one())
    rules.check_task_done(task.state, n)
    task.state, task.done_at = TaskState.DONE, ctx.now
    task.done_note = _text(note, "note", 2000, required=False)
    await _log(s, ctx, council.id, "task_done", {"task": task.id, "photos": n, "on_time": ctx.today <= task.deadline,
                                                 "by": _who(actor)})
    if task.topic_id is not None:
        topic = await s.get(Topic, task.topic_id)
        left = (await s.execute(select(func.count()).select_from(Task).where(
            Task.topic_id == task.topic_id, Task.state == TaskState.OPEN))).scalar_one()
        if topic is not None and topic.state == TopicState.DECIDED and int(left) == 0:
            topic.state = rules.advance_topic(topic.state, TopicAction.RESOLVE)
            topic.updated_at = ctx.now
            await _log(s, ctx, council.id, "topic_resolved", {"topic": topic.id})
    return task


async def add_task_note(s: AsyncSession, ctx: Ctx, actor: Actor, task: Task, *, body: str,
                        kind: str = "progress") -> TaskNote:
    """``progress`` (managers) or ``supervision`` (督办: staff of a unit above, ``Action.SUPERVISE``). Ledgered."""
    council = await council_of(s, task)
    if kind == "supervision":
        await require(s, actor, council, Action.SUPERVISE, access.Kind.TASK)
    elif kind == "progress":
        await require(s, actor, council, Action.MANAGE, access.Kind.TASK)
    else:
        raise CouncilError(Kind.INVALID, "invalid_field", "kind is progress or supervision", field="kind")
    n = TaskNote(task_id=task.id, kind=kind, author_name=actor.name, author_staff_id=actor.id,
                 body=_text(body, "body", 2000), created_at=ctx.now)
    s.add(n)
    await s.flush()
    await _log(s, ctx, council.id, f"task_{kind}", {"task": task.id, "note": n.id, "by": _who(actor)})
    return n


async def remind_overdue(s: AsyncSession, ctx: Ctx) -> list[Task]:
    """Overdue reminders (the closed loop cases use): every open task past its deadline not reminded today
    gets a ``reminder`` note and a ledger entry. Returns the tasks reminded."""
    out = []
    for t in (await s.execute(select(Task).where(Task.state == TaskState.OPEN, Task.deadline < ctx.today))).scalars():
        if t.reminded_at is not None and t.reminded_at.astimezone(BEIJING).date() == ctx.today:
            continue
        t.reminded_at = ctx.now
        days = (ctx.today - t.deadline).days
        s.add(TaskNote(task_id=t.id, kind="reminder", author_name="系统", author_staff_id=None,
                       body=f"任务已逾期 {days} 天 / overdue by {days} day(s)", created_at=ctx.now))
        await _log(s, ctx, t.council_id, "task_overdue", {"task": t.id, "days": days})
        out.append(t)
    await s.flush()
    return out


async def tasks(s: AsyncSession, council: Council, *, state: str | None = None) -> list[Task]:
    q = select(Task).where(Task.council_id == council.id)
    if state:
        q = q.where(Task.state == TaskState(state))
    return list((await s.execute(q.order_by(Task.deadline, Task.id))).scalars())


async def task_notes(s: AsyncSession, task: Task) -> list[TaskNote]:
    return list((await s.execute(select(TaskNote).where(TaskNote.task_id == task.id).order_by(TaskNote.id))).scalars())


async def task_photos(s: AsyncSession, task: Task) -> list[TaskPhoto]:
    return list((await s.execute(select(TaskPhoto).where(TaskPhoto.task_id == task.id)
                                 .order_by(TaskPhoto.id))).scalars())


def task_json(t: Task, today: date) -> dict[str, Any]:
    return {"id": t.id, "council": t.council_id, "meeting": t.meeting_id, "vote": t.vote_id, "topic": t.topic_id,
            "title": t.title, "description": t.description, "owner": t.owner_name, "owner_member": t.owner_member_id,
            "deadline": t.deadline.isoformat(), "state": t.state, "done_at": iso(t.done_at), "note": t.done_note,
            "overdue": rules.task_overdue(t.state, t.deadline, today),
            "on_time": rules.done_on_time(t.state, t.deadline, t.done_at.astimezone(BEIJING).date() if t.done_at else None)}


# ---- publication ------------------------------------------------------------------------------------


async def publish_meeting(s: AsyncSession, ctx: Ctx, actor: Actor, meeting: Meeting, *, minutes: str) -> Meeting:
    """Publish a closed meeting's minutes and decisions (managers). Refused (``personal_data``, ledgered) if the
    minutes, the agenda, the views or the tasks hold a phone or ID number. Ledgered ``meeting_published``
    with the SHA-256 of the published minutes."""
    council = await council_of(s, meeting)
    await require(s, actor, council, Action.MANAGE, access.Kind.MEETING)
    text = _text(minutes, "minutes", 20000)
    texts = [text, meeting.title, meeting.place] + [i.title for i in await agenda(s, meeting)] + \
        [v.body for v in await views(s, meeting)] + \
        [x for t in (await s.execute(select(Task).where(Task.meeting_id == meeting.id))).scalars()
         for x in (t.title, t.description, t.owner_name)]
    try:
        rules.check_publishable(*texts)
    except CouncilError as e:
        raise refusal(e, council.id, "publication_refused", {"meeting": meeting.id, "reason": "personal_data"}) from None
    meeting.state = rules.advance_meeting(meeting.state, "publish")
    meeting.minutes, meeting.published_at = text, ctx.now
    await _log(s, ctx, council.id, "meeting_published", {
        "meeting": meeting.id, "minutes_sha256": hashlib.sha256(text.encode()).hexdigest(), "by": _who(actor)})
    return meeting


def mask_name(name: str) -> str:
    """张三 -> 张*; Alice -> A****: names of supporters as the public page shows them."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


async def topic_status(s: AsyncSession, topic: Topic, today: date) -> dict[str, Any]:
    """The proposer's status page: the topic from proposal to completed tasks (no phone, no names but the
    proposer's masked). Safe to show without login."""
    tasks_ = list((await s.execute(select(Task).where(Task.topic_id == topic.id).order_by(Task.id))).scalars())
    merged = await s.get(Topic, topic.merged_into) if topic.merged_into else None
    return {"code": topic.public_code, "title": topic.title, "body": topic.body, "state": topic.state,
            "label": rules.TOPIC_LABELS[topic.state], "reason": topic.reason or None,
            "merged_into": {"code": merged.public_code, "title": merged.title} if merged else None,
            "supports": topic.supports, "proposer": mask_name(topic.proposer_name),
            "created_at": iso(topic.created_at), "updated_at": iso(topic.updated_at),
            "comments": [{"author": mask_name(c.author_name), "body": c.body, "at": iso(c.created_at)}
                         for c in await comments(s, topic)],
            "tasks": [{k: v for k, v in task_json(t, today).items() if k in (
                "title", "owner", "deadline", "state", "done_at", "overdue", "on_time")} for t in tasks_]}


async def public_view(s: AsyncSession, council: Council, today: date) -> dict[str, Any]:
    """The neighbourhood's public page (公示): published meetings with minutes, votes (secret ones as totals
    only; open ones as totals too — names stay off the public page), decisions and their tasks, and open
    topics. Checked: no phone or ID number leaves here (``personal_data``)."""
    unit = await s.get(Unit, council.unit_id)
    pub = list((await s.execute(select(Meeting).where(Meeting.council_id == council.id,
                                                      Meeting.state == MeetingState.PUBLISHED)
                                .order_by(Meeting.published_at.desc()))).scalars())
    out_meetings = []
    for m in pub:
        vs = [await vote_json(s, v, public=True) for v in await votes(s, m)]
        ts = list((await s.execute(select(Task).where(Task.meeting_id == m.id).order_by(Task.id))).scalars())
        out_meetings.append({"id": m.id, "title": m.title, "place": m.place, "at": iso(m.scheduled_at),
                             "published_at": iso(m.published_at), "minutes": m.minutes,
                             "agenda": [{"title": i.title} for i in await agenda(s, m)],
                             "votes": [{k: v[k] for k in ("id", "question", "secret", "result")} for v in vs],
                             "tasks": [task_json(t, today) for t in ts]})
    open_topics = [t for t in await topics(s, council) if t.state not in (TopicState.MERGED,)]
    page = {"council": {"name": council.name, "neighbourhood": council.neighbourhood,
                        "unit": unit.name if unit else "", "code": council.public_code},
            "meetings": out_meetings,
            "topics": [{"code": t.public_code, "title": t.title, "state": t.state, "supports": t.supports,
                        "reason": t.reason or None} for t in open_topics]}
    _assert_public(page)
    return page


async def public_vote(s: AsyncSession, council: Council, vote_id: int) -> Vote:
    """A vote of a published meeting of ``council``, for the public receipt check (404 otherwise)."""
    v = await s.get(Vote, vote_id)
    m = await s.get(Meeting, v.meeting_id) if v is not None else None
    if v is None or m is None or m.council_id != council.id or m.state != MeetingState.PUBLISHED:
        raise not_found("vote")
    return v


def _assert_public(obj: Any) -> None:
    """The last check before a public page: no phone or ID number anywhere in what it shows."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in ("code",):
                _assert_public(v)
    elif isinstance(obj, list):
        for v in obj:
            _assert_public(v)
    elif isinstance(obj, str):
        rules.check_publishable(obj)


# ---- figures ----------------------------------------------------------------------------------------


async def unit_of(s: AsyncSession, council: Council) -> Unit:
    unit = await s.get(Unit, council.unit_id)
    assert unit is not None
    return unit


async def figures(s: AsyncSession, ctx: Ctx, actor: Actor, unit_code: str | None = None) -> dict[str, Any]:
    """Council figures for the dashboard over the councils the actor sees (optionally under the unit
    ``unit_code``, 404 if the actor may not see that unit's figures):
    ``councils``, ``meetings_held`` (opened at least once), ``topics_raised``, ``topics_accepted`` (ever put on
    an agenda: accepted, decided, rejected or resolved), ``topics_resolved``, ``decisions`` (votes passed),
    ``decisions_with_tasks``, ``decisions_done_on_time`` (every task done by its deadline), ``tasks_open``,
    ``tasks_overdue``."""
    mine = select(CouncilMember.council_id).where(CouncilMember.staff_id == actor.id, CouncilMember.active.is_(True))
    ids_q = select(Council.id).join(Unit, Council.unit_id == Unit.id).where(
        access.scope_councils(actor, Council.unit_id, Council.id, mine))
    if unit_code is not None:
        unit = (await s.execute(select(Unit).where(Unit.code == unit_code))).scalar_one_or_none()
        if unit is None or not access.sees(actor, Record(access.Kind.FIGURE, unit.path)):
            raise not_found("unit")
        ids_q = ids_q.where(path_prefix(Unit.path, unit.path))
    ids = list((await s.execute(ids_q)).scalars())
    if not ids:
        return {k: 0 for k in ("councils", "meetings_held", "topics_raised", "topics_accepted", "topics_resolved",
                               "decisions", "decisions_with_tasks", "decisions_done_on_time", "tasks_open",
                               "tasks_overdue")}

    async def count(q: Any) -> int:
        return int((await s.execute(q)).scalar_one())

    held = await count(select(func.count()).select_from(Meeting).where(Meeting.council_id.in_(ids),
                                                                      Meeting.opened_at.is_not(None)))
    tq = select(func.count()).select_from(Topic).where(Topic.council_id.in_(ids))
    raised = await count(tq)
    accepted = await count(tq.where(Topic.state.in_((TopicState.ACCEPTED, TopicState.DECIDED, TopicState.REJECTED,
                                                     TopicState.RESOLVED))))
    resolved = await count(tq.where(Topic.state == TopicState.RESOLVED))
    meeting_ids = select(Meeting.id).where(Meeting.council_id.in_(ids))
    passed = [v for v in (await s.execute(select(Vote).where(Vote.meeting_id.in_(meeting_ids),
                                                             Vote.state == VoteState.CLOSED))).scalars()
              if (v.result or {}).get("outcome") == rules.Outcome.PASSED]
    all_tasks = list((await s.execute(select(Task).where(Task.council_id.in_(ids)))).scalars())
    by_vote: dict[int, list[Task]] = {}
    for t in all_tasks:
        if t.vote_id is not None:
            by_vote.setdefault(t.vote_id, []).append(t)
    today = ctx.today
    with_tasks = [v for v in passed if v.id in by_vote]
    on_time = [v for v in with_tasks if all(rules.done_on_time(t.state, t.deadline, t.done_at.astimezone(BEIJING).date()
                                                               if t.done_at else None) for t in by_vote[v.id])]
    return {"councils": len(ids), "meetings_held": held, "topics_raised": raised, "topics_accepted": accepted,
            "topics_resolved": resolved, "decisions": len(passed), "decisions_with_tasks": len(with_tasks),
            "decisions_done_on_time": len(on_time),
            "tasks_open": sum(1 for t in all_tasks if t.state == TaskState.OPEN),
            "tasks_overdue": sum(1 for t in all_tasks if rules.task_overdue(t.state, t.deadline, today))}

