"""The councils JSON API (``/api/councils…``, docs/api.md "Councils", docs/councils.md).

Handlers parse, call ``server.councils.service`` and shape the answer; refusals are the service's
``CouncilError`` (kind + code), turned into statuses by the error middleware. Staff only: residents use the
public pages (``pages.py``), the room, or the tablet.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from aiohttp import web

from server import access
from server.access import Action
from server.api import registry as r
from server.auth import require_actor
from server.clock import BEIJING
from server.councils import rules, service
from server.councils.models import AgendaItem, Council, CouncilMember, Meeting, Topic, Vote
from server.councils.service import Ctx
from server.errors import bad_request, read_body, read_json
from server.http import now_of, path_id
from server.policy import Actor
from server.services import services

TAG = "councils"
SCHEMA_KEY = web.RequestKey("councils_request_schema", object)  # the route's declared request schema


def route(method: str, path: str, **kw: Any) -> Any:
    """``registry.route``, and the request's body checked against the declared schema by :func:`read`."""
    schema = kw.get("request")

    def deco(fn: Any) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            request[SCHEMA_KEY] = schema
            return await fn(request)  # type: ignore[no-any-return]
        handler.__name__ = fn.__name__
        handler.__doc__ = fn.__doc__
        r.route(method, path, **kw)(handler)
        return fn
    return deco


def check(value: Any, schema: dict[str, Any], name: str) -> None:
    """A JSON value as its (small) schema states it: types, lengths, ranges, enums, patterns, required fields."""
    def bad(why: str) -> Exception:
        return bad_request(f"{name or 'body'} {why}", "invalid_field", **({"field": name} if name else {}))
    if value is None:
        if schema.get("nullable") or not schema:
            return
        raise bad("must not be null")
    t = schema.get("type")
    if t == "string":
        if not isinstance(value, str):
            raise bad("must be text")
        if len(value) > schema.get("maxLength", 1 << 30) or len(value) < schema.get("minLength", 0):
            raise bad("has the wrong length")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            raise bad("is not in the expected form")
        if "enum" in schema and value not in schema["enum"]:
            raise bad(f"must be one of {', '.join(schema['enum'])}")
    elif t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("must be a whole number")
        if not schema.get("minimum", -(2**63)) <= value <= schema.get("maximum", 2**31 - 1):
            raise bad("is out of range")
    elif t == "boolean":
        if not isinstance(value, bool):
            raise bad("must be true or false")
    elif t == "array":
        if not isinstance(value, list):
            raise bad("must be a list")
        for i, v in enumerate(value):
            check(v, schema.get("items", {}), f"{name}[{i}]")
    elif t == "object":
        if not isinstance(value, dict):
            raise bad("must be an object")
        for req in schema.get("required", []):
            if req not in value:
                raise bad_request(f"missing field: {req}", "missing_field", field=req)
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                check(value[k], sub, f"{name}.{k}" if name else k)


async def read(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """The JSON body, checked against the route's declared request schema."""
    body = await read_json(request, max_bytes)
    schema = request.get(SCHEMA_KEY)
    if isinstance(schema, dict):
        check(body, schema, "")
    return body
ID = [r.path_param("id")]
NULL_INT = {"type": "integer", "nullable": True}
NULL_STR = {"type": "string", "nullable": True}

QUORUM = r.obj(None, fraction=r.string(pattern=r"^[0-9]+(/[0-9]+)?$", maxLength=9), strictly_more={"type": "boolean"},
               minimum=r.integer(minimum=1, maximum=1000), passing=r.string(enum=[p.value for p in rules.PassRule]))
MEMBER = r.schema("CouncilMember", r.obj(
    ["id", "role", "name", "term_start", "term_end", "active"], id=r.integer(),
    role=r.string(enum=[m.value for m in rules.MemberRole]), name=r.string(), affiliation=r.string(),
    staff_id=NULL_INT, term_start=r.string(format="date"), term_end=r.string(format="date"),
    active={"type": "boolean"}))
COUNCIL = r.schema("Council", r.obj(
    ["id", "name", "unit", "public_code"], id=r.integer(), name=r.string(), unit=r.string(), unit_name=r.string(),
    neighbourhood=r.string(), public_code=r.string(), support_threshold=r.integer(), quorum=QUORUM,
    can_manage={"type": "boolean"}, members=r.array(MEMBER)))
TOPIC = r.schema("CouncilTopic", r.obj(
    ["id", "title", "state"], id=r.integer(), council=r.integer(), code=r.string(), title=r.string(),
    body=r.string(), state=r.string(enum=[s.value for s in rules.TopicState]), source=r.string(),
    proposer=r.string(), supports=r.integer(), reason=NULL_STR, merged_into=NULL_INT, case_id=NULL_INT,
    created_at=r.string(format="date-time")))
ITEM = r.obj(["id", "position", "title"], id=r.integer(), position=r.integer(), title=r.string(), topic=NULL_INT)
VOTE = r.schema("CouncilVote", r.obj(
    ["id", "question", "secret", "state"], id=r.integer(), meeting=r.integer(), item=r.integer(),
    question=r.string(), secret={"type": "boolean"}, state=r.string(enum=[s.value for s in rules.VoteState]),
    window_s=r.integer(), opens_at=NULL_STR, closes_at=NULL_STR, closed_at=NULL_STR, voted=r.integer(),
    result={"type": "object", "nullable": True}, receipts=r.array(r.string()),
    ballots=r.array(r.obj(None, member=r.integer(), name=r.string(), choice=r.string()))))
ATTENDANCE = r.obj(["members", "present", "quorum_needed", "quorate"], members=r.integer(), present=r.integer(),
                   in_person=r.integer(), online=r.integer(), quorum_needed=r.integer(), quorate={"type": "boolean"},
                   attendees=r.array(r.obj(None, member=r.integer(), name=r.string(), role=r.string(),
                                           mode=r.string())))
MEETING = r.schema("CouncilMeeting", r.obj(
    ["id", "title", "state"], id=r.integer(), council=r.integer(), session_id=NULL_INT, title=r.string(),
    place=r.string(), scheduled_at=r.string(format="date-time"),
    state=r.string(enum=[s.value for s in rules.MeetingState]), quorum=QUORUM, gallery_open={"type": "boolean"},
    speaking_limit_s=r.integer(), minutes=r.string(), published_at=NULL_STR, agenda=r.array(ITEM),
    attendance=ATTENDANCE, votes=r.array(VOTE),
    views=r.array(r.obj(None, id=r.integer(), item=r.integer(), speaker=r.string(), body=r.string(),
                        at=r.string()))))
TASK = r.schema("CouncilTask", r.obj(
    ["id", "title", "owner", "deadline", "state"], id=r.integer(), council=r.integer(), meeting=NULL_INT,
    vote=NULL_INT, topic=NULL_INT, title=r.string(), description=r.string(), owner=r.string(),
    owner_member=NULL_INT, deadline=r.string(format="date"), state=r.string(enum=[s.value for s in rules.TaskState]),
    done_at=NULL_STR, note=r.string(), overdue={"type": "boolean"}, on_time={"type": "boolean"},
    photos=r.array(r.obj(None, id=r.integer(), sha256=r.string(), content_type=r.string(), bytes=r.integer())),
    notes=r.array(r.obj(None, kind=r.string(), author=r.string(), body=r.string(), at=r.string()))))
CAST = r.obj(["vote", "counted"], vote=r.integer(), counted={"type": "boolean"}, secret={"type": "boolean"},
             receipt=NULL_STR)
FIGURES = r.schema("CouncilFigures", r.obj(
    ["councils", "meetings_held", "topics_raised", "topics_accepted", "topics_resolved", "decisions",
     "decisions_with_tasks", "decisions_done_on_time"],
    **{k: r.integer() for k in ("councils", "meetings_held", "topics_raised", "topics_accepted", "topics_resolved",
                                "decisions", "decisions_with_tasks", "decisions_done_on_time", "tasks_open",
                                "tasks_overdue")}))


def ctx(request: web.Request) -> Ctx:
    """The council context of a request: the app clock's now and the server secret."""
    return Ctx(now_of(request), services(request).config.secret_key)


async def sweep(request: web.Request) -> None:
    """Close the votes whose window has passed (their own transaction, before a vote is read or voted on)."""
    async with service.transaction(services(request).db, ctx(request)) as s:
        await service.close_expired_votes(s, ctx(request))


def _str(body: dict[str, Any], name: str, *, required: bool = True, default: str = "") -> str:
    v = body.get(name)
    if v is None:
        if required:
            raise bad_request(f"missing field: {name}", "missing_field", field=name)
        return default
    if not isinstance(v, str):
        raise bad_request(f"{name} must be text", "invalid_field", field=name)
    return v


def _int(body: dict[str, Any], name: str, *, required: bool = False, default: int | None = None) -> int | None:
    v = body.get(name)
    if v is None:
        if required:
            raise bad_request(f"missing field: {name}", "missing_field", field=name)
        return default
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 2**31 - 1:
        raise bad_request(f"{name} must be a whole number", "invalid_field", field=name)
    return v


def _bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    v = body.get(name, default)
    if not isinstance(v, bool):
        raise bad_request(f"{name} must be true or false", "invalid_field", field=name)
    return v


def _date(body: dict[str, Any], name: str) -> date:
    raw = _str(body, name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"{name} must be a date (YYYY-MM-DD)", "invalid_field", field=name) from None


def _datetime(body: dict[str, Any], name: str) -> datetime:
    raw = _str(body, name)
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{name} must be an ISO 8601 time", "invalid_field", field=name) from None
    return at.replace(tzinfo=BEIJING) if at.tzinfo is None else at


def _quorum(body: dict[str, Any]) -> dict[str, Any] | None:
    q = body.get("quorum")
    if q is not None and not isinstance(q, dict):
        raise bad_request("quorum must be an object", "invalid_field", field="quorum")
    return q


def member_json(m: CouncilMember) -> dict[str, Any]:
    return {"id": m.id, "role": m.role, "name": m.name, "affiliation": m.affiliation, "staff_id": m.staff_id,
            "term_start": m.term_start.isoformat(), "term_end": m.term_end.isoformat(), "active": m.active}


async def council_json(s: Any, actor: Actor, c: Council, *, full: bool = True) -> dict[str, Any]:
    unit = await service.unit_of(s, c)
    out: dict[str, Any] = {"id": c.id, "name": c.name, "unit": unit.code, "unit_name": unit.name,
                           "neighbourhood": c.neighbourhood, "public_code": c.public_code,
                           "support_threshold": c.support_threshold, "quorum": c.quorum}
    if full:
        rec = await service.record(s, actor, c)
        out["can_manage"] = access.may(actor, Action.MANAGE, rec)
        out["members"] = [member_json(m) for m in await service.members(s, c, active_only=False)]
    return out


def topic_json(t: Topic) -> dict[str, Any]:
    return {"id": t.id, "council": t.council_id, "code": t.public_code, "title": t.title, "body": t.body,
            "state": t.state, "source": t.source, "proposer": t.proposer_name, "supports": t.supports,
            "reason": t.reason or None, "merged_into": t.merged_into, "case_id": t.case_id,
            "created_at": service.iso(t.created_at)}


def item_json(i: AgendaItem) -> dict[str, Any]:
    return {"id": i.id, "position": i.position, "title": i.title, "topic": i.topic_id}


async def meeting_json(s: Any, m: Meeting, today: date) -> dict[str, Any]:
    return {"id": m.id, "council": m.council_id, "session_id": m.session_id, "title": m.title, "place": m.place,
            "scheduled_at": service.iso(m.scheduled_at), "state": m.state, "quorum": m.quorum,
            "gallery_open": m.gallery_open, "speaking_limit_s": m.speaking_limit_s, "minutes": m.minutes,
            "published_at": service.iso(m.published_at),
            "agenda": [item_json(i) for i in await service.agenda(s, m)],
            "attendance": await service.attendance_summary(s, m, today),
            "votes": [await service.vote_json(s, v) for v in await service.votes(s, m)],
            "views": [{"id": v.id, "item": v.item_id, "speaker": v.speaker, "body": v.body,
                       "at": service.iso(v.created_at)} for v in await service.views(s, m)]}


async def task_full(s: Any, t: Any, today: date) -> dict[str, Any]:
    out = service.task_json(t, today)
    out["photos"] = [{"id": p.id, "sha256": p.sha256, "content_type": p.content_type, "bytes": p.bytes}
                     for p in await service.task_photos(s, t)]
    out["notes"] = [{"kind": n.kind, "author": n.author_name, "body": n.body, "at": service.iso(n.created_at)}
                    for n in await service.task_notes(s, t)]
    return out


async def announce(request: web.Request, meeting: Meeting, msg: dict[str, Any]) -> None:
    """Tell everybody in the meeting's live room (a vote opened or closed, the tally), if a room is up."""
    hub = services(request).room_hub
    if hub is not None and meeting.session_id is not None:
        await hub.broadcast(meeting.session_id, msg)


async def vote_event(s: Any, vote: Vote) -> dict[str, Any]:
    """The room message about a vote: ``council_vote`` with the vote as the public sees it (totals only)."""
    return {"type": "council_vote", "vote": await service.vote_json(s, vote, public=True)}


# ---- councils and members ---------------------------------------------------------------------------


@route("POST", "/api/councils", summary="Create a residents' council for a village/community (or a 小区)",
         tag=TAG, status=201, request=r.obj(["unit", "name"], unit=r.string(maxLength=12), name=r.string(maxLength=200),
                                            neighbourhood=r.string(maxLength=100),
                                            support_threshold=r.integer(minimum=0, maximum=10000), quorum=QUORUM),
         response=COUNCIL, errors=(400, 403, 404, 413))
async def create_council(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 16 * 1024)
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.create_council(s, ctx(request), actor, unit_code=_str(body, "unit"), name=_str(body, "name"),
                                         neighbourhood=_str(body, "neighbourhood", required=False),
                                         support_threshold=_int(body, "support_threshold", default=10) or 0,
                                         quorum=_quorum(body))
        out = await council_json(s, actor, c)
    return web.json_response(out, status=201)


@route("GET", "/api/councils", summary="Councils the caller sees (their subtree, or councils they sit on)",
         tag=TAG, response=r.obj(["councils"], councils=r.array(COUNCIL)), strict_query=True)
async def list_councils(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        rows = await service.list_councils(s, actor)
        out = [await council_json(s, actor, c, full=False) for c, _ in rows]
    return web.json_response({"councils": out})


@route("GET", "/api/councils/figures", summary="Council figures for the dashboard", tag=TAG,
         params=[r.query("unit", r.string(pattern=r"^[0-9]{6,15}$", maxLength=15),
                         "unit code: councils under this unit (default: all the caller sees)")],
         response=FIGURES, errors=(400, 404), strict_query=True)
async def figures(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        out = await service.figures(s, ctx(request), actor, request.query.get("unit"))
    return web.json_response(out)


@route("GET", "/api/councils/{id}", summary="A council with its members", tag=TAG, params=ID, response=COUNCIL,
         errors=(404,))
async def get_council(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.get_council(s, actor, path_id(request))
        return web.json_response(await council_json(s, actor, c))


@route("POST", "/api/councils/{id}/members", summary="Seat a member (role, term); ledgered", tag=TAG, params=ID,
         status=201, request=r.obj(["role", "name", "term_start", "term_end"],
                                   role=r.string(enum=[m.value for m in rules.MemberRole]), name=r.string(maxLength=100),
                                   term_start=r.string(format="date"), term_end=r.string(format="date"),
                                   username=r.string(maxLength=64, description="a staff account"),
                                   phone=r.string(maxLength=20, description="kept only as a keyed hash"),
                                   affiliation=r.string(maxLength=100)),
         response=MEMBER, errors=(400, 403, 404, 409, 413))
async def add_member(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 16 * 1024)
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.get_council(s, actor, path_id(request))
        m = await service.add_member(s, ctx(request), actor, c, role=_str(body, "role"),
                                     name=_str(body, "name", required=False),
                                     term_start=_date(body, "term_start"), term_end=_date(body, "term_end"),
                                     staff_username=_str(body, "username", required=False) or None,
                                     phone=_str(body, "phone", required=False) or None,
                                     affiliation=_str(body, "affiliation", required=False))
        out = member_json(m)
    return web.json_response(out, status=201)


@route("DELETE", "/api/councils/{id}/members/{member}", summary="A member leaves the council; ledgered", tag=TAG,
         params=[r.path_param("id"), r.path_param("member")], response=MEMBER, errors=(403, 404, 409, 413))
async def end_member(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.get_council(s, actor, path_id(request))
        m = await service.end_membership(s, ctx(request), actor, c, path_id(request, "member"))
        out = member_json(m)
    return web.json_response(out)


# ---- topics -----------------------------------------------------------------------------------------


@route("GET", "/api/councils/{id}/topics", summary="A council's topics", tag=TAG,
         params=[*ID, r.query("state", r.string(enum=[s.value for s in rules.TopicState]))],
         response=r.obj(["topics"], topics=r.array(TOPIC)), errors=(400, 404), strict_query=True)
async def list_topics(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.get_council(s, actor, path_id(request))
        ts = await service.topics(s, c, state=request.query.get("state"))
        return web.json_response({"topics": [topic_json(t) for t in ts]})


@route("POST", "/api/councils/{id}/topics", summary="Propose a topic (staff or a member; from a case with case_id)",
         tag=TAG, params=ID, status=201,
         request=r.obj(["title"], title=r.string(maxLength=200), body=r.string(maxLength=4000),
                       case_id=r.integer(minimum=1)),
         response=TOPIC, errors=(400, 404, 413))
async def propose(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 32 * 1024)
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.get_council(s, actor, path_id(request))
        t = await service.propose_topic(s, ctx(request), c, title=_str(body, "title"),
                                        body=_str(body, "body", required=False), proposer_name=actor.name,
                                        actor=actor, case_id=_int(body, "case_id"))
        out = topic_json(t)
    return web.json_response(out, status=201)


@route("GET", "/api/councils/topics/{id}", summary="A topic with its comments and tasks", tag=TAG, params=ID,
         response=TOPIC, errors=(404,))
async def get_topic(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        t = await service.get_topic(s, actor, path_id(request))
        out = topic_json(t)
        out["status"] = await service.topic_status(s, t, ctx(request).today)
    return web.json_response(out)


@route("POST", "/api/councils/topics/{id}/decision",
         summary="The convenor accepts (onto a meeting's agenda), merges or declines a topic (with a reason)", tag=TAG,
         params=ID, request=r.obj(["action"], action=r.string(enum=["accept", "merge", "decline"]),
                                  reason=r.string(maxLength=500), merged_into=r.integer(minimum=1),
                                  meeting=r.integer(minimum=1)),
         response=TOPIC, errors=(400, 403, 404, 409, 413))
async def decide(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 8 * 1024)
    async with service.transaction(services(request).db, ctx(request)) as s:
        t = await service.get_topic(s, actor, path_id(request))
        t = await service.decide_topic(s, ctx(request), actor, t, _str(body, "action"),
                                       reason=_str(body, "reason", required=False),
                                       merged_into=_int(body, "merged_into"), meeting_id=_int(body, "meeting"))
        out = topic_json(t)
    return web.json_response(out)


@route("POST", "/api/councils/topics/{id}/case", summary="Turn a topic that is really a dispute into a case",
       tag=TAG, params=ID, status=201, response=r.obj(["case_id"], case_id=r.integer()), errors=(403, 404, 409))
async def spawn_case(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        t = await service.get_topic(s, actor, path_id(request))
        case_id = await service.spawn_case(s, ctx(request), actor, t)
    return web.json_response({"case_id": case_id}, status=201)


# ---- meetings ---------------------------------------------------------------------------------------


@route("POST", "/api/councils/{id}/meetings", summary="Schedule a hybrid meeting (place, quorum, live room)",
         tag=TAG, params=ID, status=201,
         request=r.obj(["title", "place", "scheduled_at"], title=r.string(maxLength=200), place=r.string(maxLength=200),
                       scheduled_at=r.string(format="date-time"), quorum=QUORUM, gallery_open={"type": "boolean"},
                       speaking_limit_s=r.integer(minimum=30, maximum=1800), room={"type": "boolean"},
                       topics=r.array(r.integer(minimum=1))),
         response=MEETING, errors=(400, 403, 404, 409, 413))
async def schedule(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 16 * 1024)
    topic_ids = body.get("topics", [])
    if not isinstance(topic_ids, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in topic_ids):
        raise bad_request("topics must be a list of topic ids", "invalid_field", field="topics")
    c_ = ctx(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.get_council(s, actor, path_id(request))
        m = await service.schedule_meeting(s, c_, actor, c, title=_str(body, "title"), place=_str(body, "place"),
                                           scheduled_at=_datetime(body, "scheduled_at"), quorum=_quorum(body),
                                           gallery_open=_bool(body, "gallery_open"),
                                           speaking_limit_s=_int(body, "speaking_limit_s", default=180) or 0,
                                           room=_bool(body, "room", True))
        for tid in topic_ids[:50]:
            await service.add_agenda_item(s, c_, actor, m, title="", topic_id=tid)
        out = await meeting_json(s, m, c_.today)
    return web.json_response(out, status=201)


@route("GET", "/api/councils/{id}/meetings", summary="A council's meetings", tag=TAG, params=ID,
         response=r.obj(["meetings"], meetings=r.array(MEETING)), errors=(404,))
async def list_meetings(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.get_council(s, actor, path_id(request))
        ms = await service.meetings(s, c)
        return web.json_response({"meetings": [{"id": m.id, "title": m.title, "place": m.place, "state": m.state,
                                                "scheduled_at": service.iso(m.scheduled_at),
                                                "session_id": m.session_id} for m in ms]})


@route("GET", "/api/councils/meetings/{id}", summary="A meeting: agenda, live attendance and quorum, votes, views",
         tag=TAG, params=ID, response=MEETING, errors=(404,))
async def get_meeting(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    await sweep(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        m = await service.get_meeting(s, actor, path_id(request))
        return web.json_response(await meeting_json(s, m, ctx(request).today))


@route("POST", "/api/councils/meetings/{id}/items", summary="Add an agenda item (or a topic onto the agenda)",
         tag=TAG, params=ID, status=201,
         request=r.obj(None, title=r.string(maxLength=200), topic=r.integer(minimum=1)),
         response=ITEM, errors=(400, 403, 404, 409, 413))
async def add_item(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 8 * 1024)
    async with service.transaction(services(request).db, ctx(request)) as s:
        m = await service.get_meeting(s, actor, path_id(request))
        topic = _int(body, "topic")
        item = await service.add_agenda_item(s, ctx(request), actor, m, title=_str(body, "title", required=topic is None),
                                             topic_id=topic)
        out = item_json(item)
    return web.json_response(out, status=201)


async def _move(request: web.Request, action: str) -> web.Response:
    actor = await require_actor(request)
    c_ = ctx(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        m = await service.get_meeting(s, actor, path_id(request))
        await service.move_meeting(s, c_, actor, m, action)
        out = await meeting_json(s, m, c_.today)
    await announce(request, m, {"type": "council_meeting", "meeting": m.id, "state": m.state})
    return web.json_response(out)


@route("POST", "/api/councils/meetings/{id}/open", summary="Open the meeting (in session)", tag=TAG, params=ID,
         response=MEETING, errors=(403, 404, 409, 413))
async def open_meeting(request: web.Request) -> web.Response:
    return await _move(request, "open")


@route("POST", "/api/councils/meetings/{id}/close", summary="Close the meeting (closes any open vote)", tag=TAG,
         params=ID, response=MEETING, errors=(403, 404, 409, 413))
async def close_meeting(request: web.Request) -> web.Response:
    return await _move(request, "close")


@route("POST", "/api/councils/meetings/{id}/codes",
         summary="Issue every voting member a room invitation and a 6-digit tablet code (shown once)", tag=TAG,
         params=ID, response=r.obj(["codes"], codes=r.array(r.obj(None, member=r.integer(), name=r.string(),
                                                                    role=r.string(), code=r.string(), url=r.string()))),
         errors=(403, 404, 409, 413))
async def codes(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        m = await service.get_meeting(s, actor, path_id(request))
        issued = await service.issue_member_codes(s, ctx(request), actor, m)
    return web.json_response({"codes": [{"member": mid, **{k: v for k, v in e.items() if k != "invitation_id"}}
                                        for mid, e in issued.items()]})


@route("POST", "/api/councils/meetings/{id}/attendance", summary="Mark a member present (in person or online) or gone",
         tag=TAG, params=ID, request=r.obj(["member", "mode"], member=r.integer(minimum=1),
                                           mode=r.string(enum=["in_person", "online"]), present={"type": "boolean"}),
         response=ATTENDANCE, errors=(400, 403, 404, 409, 413))
async def attendance(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 4 * 1024)
    c_ = ctx(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        m = await service.get_meeting(s, actor, path_id(request))
        await service.record_attendance(s, c_, actor, m, _int(body, "member", required=True) or 0,
                                        mode=_str(body, "mode"), present=_bool(body, "present", True))
        out = await service.attendance_summary(s, m, c_.today)
    await announce(request, m, {"type": "council_attendance", "meeting": m.id,
                                **{k: v for k, v in out.items() if k != "attendees"}})
    return web.json_response(out)


@route("POST", "/api/councils/items/{id}/views", summary="Record a view on an agenda item", tag=TAG, params=ID,
         status=201, request=r.obj(["body"], body=r.string(maxLength=4000), member=r.integer(minimum=1),
                                   speaker=r.string(maxLength=100)),
         response=r.obj(["id"], id=r.integer(), speaker=r.string(), body=r.string()), errors=(400, 403, 404, 413))
async def add_view(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 16 * 1024)
    async with service.transaction(services(request).db, ctx(request)) as s:
        v = await service.record_view(s, ctx(request), actor, path_id(request), body=_str(body, "body"),
                                      member_id=_int(body, "member"), speaker=_str(body, "speaker", required=False))
        out = {"id": v.id, "speaker": v.speaker, "body": v.body}
    return web.json_response(out, status=201)


# ---- votes ------------------------------------------------------------------------------------------


@route("POST", "/api/councils/items/{id}/votes", summary="Put an agenda item to the vote (a draft: open or secret)",
         tag=TAG, params=ID, status=201,
         request=r.obj(["question"], question=r.string(maxLength=300), secret={"type": "boolean"},
                       window_s=r.integer(minimum=30, maximum=7200)),
         response=VOTE, errors=(400, 403, 404, 409, 413))
async def create_vote(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 8 * 1024)
    async with service.transaction(services(request).db, ctx(request)) as s:
        v = await service.create_vote(s, ctx(request), actor, path_id(request), question=_str(body, "question"),
                                      secret=_bool(body, "secret"), window_s=_int(body, "window_s", default=300) or 0)
        out = await service.vote_json(s, v)
    return web.json_response(out, status=201)


@route("GET", "/api/councils/votes/{id}", summary="A vote: state, window, counts; the result once closed", tag=TAG,
         params=ID, response=VOTE, errors=(404,))
async def get_vote(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    await sweep(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        v = await service.get_vote(s, actor, path_id(request))
        return web.json_response(await service.vote_json(s, v))


@route("POST", "/api/councils/votes/{id}/secrecy", summary="Choose open or secret (before voting starts)", tag=TAG,
         params=ID, request=r.obj(["secret"], secret={"type": "boolean"}), response=VOTE, errors=(400, 403, 404, 409, 413))
async def secrecy(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 4 * 1024)
    if not isinstance(body.get("secret"), bool):
        raise bad_request("secret must be true or false", "invalid_field", field="secret")
    async with service.transaction(services(request).db, ctx(request)) as s:
        v = await service.get_vote(s, actor, path_id(request))
        await service.set_secrecy(s, ctx(request), actor, v, body["secret"])
        out = await service.vote_json(s, v)
    return web.json_response(out)


async def _vote_move(request: web.Request, opening: bool) -> web.Response:
    actor = await require_actor(request)
    await sweep(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        v = await service.get_vote(s, actor, path_id(request))
        if opening:
            await service.open_vote(s, ctx(request), actor, v)
        else:
            await service.close_vote(s, ctx(request), actor, v)
        out = await service.vote_json(s, v)
        event = await vote_event(s, v)
        m = await s.get(Meeting, v.meeting_id)
    assert m is not None
    await announce(request, m, event)
    return web.json_response(out)


@route("POST", "/api/councils/votes/{id}/open", summary="Open the voting window (needs a quorum present)", tag=TAG,
         params=ID, response=VOTE, errors=(403, 404, 409, 413))
async def open_vote(request: web.Request) -> web.Response:
    return await _vote_move(request, True)


@route("POST", "/api/councils/votes/{id}/close",
         summary="Close the vote: tally, quorum check, result (ledgered, broadcast to the room)", tag=TAG, params=ID,
         response=VOTE, errors=(403, 404, 409, 413))
async def close_vote(request: web.Request) -> web.Response:
    return await _vote_move(request, False)


@route("POST", "/api/councils/votes/{id}/ballots",
         summary="Cast a ballot: a staff member for themself, or a member's code on the shared tablet", tag=TAG,
         params=ID, status=201,
         request=r.obj(["choice"], choice=r.string(enum=[c.value for c in rules.Choice]),
                       code=r.string(pattern="^[0-9]{6}$", description="the member's tablet code")),
         response=CAST, errors=(400, 403, 404, 409, 413))
async def ballot(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 4 * 1024)
    choice, code = _str(body, "choice"), body.get("code")
    if code is not None and not isinstance(code, str):
        raise bad_request("code must be text", "invalid_field", field="code")
    async with service.transaction(services(request).db, ctx(request)) as s:
        v = await service.get_vote(s, actor, path_id(request))
        if code is not None:
            cast = await service.cast_with_code(s, ctx(request), actor, v, code, choice)
        else:
            cast = await service.cast_as_staff(s, ctx(request), actor, v, choice)
    return web.json_response({"vote": cast.vote_id, "counted": True, "secret": cast.secret, "receipt": cast.receipt},
                             status=201)


@route("POST", "/api/councils/votes/{id}/receipt", summary="Check that the ballot behind a receipt was counted",
         tag=TAG, params=ID, request=r.obj(["receipt"], receipt=r.string(maxLength=20)),
         response=r.obj(["counted"], counted={"type": "boolean"}), errors=(400, 404, 413))
async def receipt(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 4 * 1024)
    async with service.transaction(services(request).db, ctx(request)) as s:
        v = await service.get_vote(s, actor, path_id(request))
        ok = await service.check_receipt(s, v, _str(body, "receipt"))
    return web.json_response({"counted": ok})


@route("POST", "/api/councils/meetings/{id}/publish",
         summary="Publish a closed meeting's minutes and decisions (公示); refused if they hold personal data", tag=TAG,
         params=ID, request=r.obj(["minutes"], minutes=r.string(maxLength=20000)), response=MEETING,
         errors=(400, 403, 404, 409, 413))
async def publish(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 128 * 1024)
    c_ = ctx(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        m = await service.get_meeting(s, actor, path_id(request))
        await service.publish_meeting(s, c_, actor, m, minutes=_str(body, "minutes"))
        out = await meeting_json(s, m, c_.today)
    return web.json_response(out)


# ---- tasks ------------------------------------------------------------------------------------------


@route("POST", "/api/councils/{id}/tasks", summary="A task from a decision: owner, deadline, description", tag=TAG,
         params=ID, status=201,
         request=r.obj(["title", "owner", "deadline"], title=r.string(maxLength=200),
                       description=r.string(maxLength=4000), owner=r.string(maxLength=100),
                       owner_member=r.integer(minimum=1), deadline=r.string(format="date"), vote=r.integer(minimum=1),
                       topic=r.integer(minimum=1)),
         response=TASK, errors=(400, 403, 404, 409, 413))
async def create_task(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 16 * 1024)
    c_ = ctx(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.get_council(s, actor, path_id(request))
        t = await service.create_task(s, c_, actor, c, title=_str(body, "title"), owner_name=_str(body, "owner"),
                                      deadline=_date(body, "deadline"),
                                      description=_str(body, "description", required=False),
                                      vote_id=_int(body, "vote"), topic_id=_int(body, "topic"),
                                      owner_member_id=_int(body, "owner_member"))
        out = await task_full(s, t, c_.today)
    return web.json_response(out, status=201)


@route("GET", "/api/councils/{id}/tasks", summary="A council's tasks (overdue flagged)", tag=TAG,
         params=[*ID, r.query("state", r.string(enum=[s.value for s in rules.TaskState]))],
         response=r.obj(["tasks"], tasks=r.array(TASK)), errors=(400, 404), strict_query=True)
async def list_tasks(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    today = ctx(request).today
    async with service.transaction(services(request).db, ctx(request)) as s:
        c = await service.get_council(s, actor, path_id(request))
        return web.json_response({"tasks": [service.task_json(t, today)
                                            for t in await service.tasks(s, c, state=request.query.get("state"))]})


@route("GET", "/api/councils/tasks/{id}", summary="A task with its photos and notes", tag=TAG, params=ID,
         response=TASK, errors=(404,))
async def get_task(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        t = await service.get_task(s, actor, path_id(request))
        return web.json_response(await task_full(s, t, ctx(request).today))


@route("POST", "/api/councils/tasks/{id}/photos",
         summary="A photo as proof of completion (JPEG/PNG/WebP, ≤ 10 MB; the request body is the image)", tag=TAG,
         params=ID, status=201, response=r.obj(["id", "sha256"], id=r.integer(), sha256=r.string()),
         errors=(403, 404, 413, 415, 422))
async def add_photo(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    data = await read_body(request, service.MAX_PHOTO_BYTES)
    async with service.transaction(services(request).db, ctx(request)) as s:
        t = await service.get_task(s, actor, path_id(request))
        p = await service.add_task_photo(s, ctx(request), actor, t, data, services(request).config.data_dir)
        out = {"id": p.id, "sha256": p.sha256}
    return web.json_response(out, status=201)


@route("GET", "/api/councils/photos/{id}", summary="A task's proof photo", tag=TAG, params=ID,
         response_content_type="image/*", errors=(404,))
async def get_photo(request: web.Request) -> web.StreamResponse:
    actor = await require_actor(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        p, path = await service.task_photo(s, path_id(request), services(request).config.data_dir)
        await service.get_task(s, actor, p.task_id)
    return web.FileResponse(path, headers={"Content-Type": p.content_type, "Cache-Control": "private, max-age=300"})


@route("POST", "/api/councils/tasks/{id}/done", summary="Complete a task (needs a photo); ledgered", tag=TAG,
         params=ID, request=r.obj(None, note=r.string(maxLength=2000)), response=TASK, errors=(400, 403, 404, 409, 413))
async def done(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 8 * 1024)
    c_ = ctx(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        t = await service.get_task(s, actor, path_id(request))
        await service.complete_task(s, c_, actor, t, _str(body, "note", required=False))
        out = await task_full(s, t, c_.today)
    return web.json_response(out)


@route("POST", "/api/councils/tasks/{id}/notes",
         summary="A progress note (managers) or supervision (督办, the tier above)", tag=TAG, params=ID, status=201,
         request=r.obj(["body"], body=r.string(maxLength=2000), kind=r.string(enum=["progress", "supervision"])),
         response=TASK, errors=(400, 403, 404, 413))
async def note(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read(request, 8 * 1024)
    c_ = ctx(request)
    async with service.transaction(services(request).db, ctx(request)) as s:
        t = await service.get_task(s, actor, path_id(request))
        await service.add_task_note(s, c_, actor, t, body=_str(body, "body"),
                                    kind=_str(body, "kind", required=False, default="progress"))
        out = await task_full(s, t, c_.today)
    return web.json_response(out, status=201)
