"""Work around a case as JSON: supervision (督办), the notification centre, the notice board (通报)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server import access
from server.api import registry as r
from server.auth import require_actor
from server.cases import (
    case_sessions,
    consultations,
    dv,
    notices,
    notifications,
    petitions,
    present,
    supervision,
)
from server.cases.case_sessions import parse_when
from server.cases.http.api import CODE_PARAM, domain, path_int, req, route
from server.cases.http.context import ctx
from server.cases.http.forms import draft_from, staff_ids
from server.cases.models import Case, SupervisionOrder
from server.cases.queries import facts, get_visible
from server.clock import BEIJING
from server.errors import bad_request, field, read_json
from server.http import now_of
from server.services import services


def parse_time(body: dict[str, Any], name: str) -> datetime:
    """ISO 8601; without an offset it is read as China Standard Time (the users' wall clock)."""
    raw = field(body, name, max_len=40)
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as e:
        raise bad_request(f"{name} must be an ISO 8601 time", "invalid_field", field=name) from e
    if at.tzinfo is None:
        at = at.replace(tzinfo=BEIJING)
    return at.astimezone(UTC)


SUPERVISION = r.schema("SupervisionOrder", r.obj(
    ["id", "instruction", "due_at", "status"], id=r.integer(), case_id=r.integer(), instruction=r.string(),
    due_at=r.string(), status=r.string(enum=["open", "responded"]), response={"type": "string", "nullable": True},
    responded_at={"type": "string", "nullable": True}, issued_by={"type": "object", "nullable": True},
    created_at=r.string(), case_code=r.string(), overdue={"type": "boolean"},
))


@route("POST", "/api/cases/{code}/supervision", summary="Issue a supervision order (督办) from a higher tier",
         tag="supervision", params=[CODE_PARAM], status=201, errors=(403, 404, 409), response=SUPERVISION,
         request=req(["instruction", "due_at"], instruction=r.string(minLength=1, maxLength=2000),
                       due_at=r.string(format="date-time")))
@domain
async def issue_supervision(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    instruction = field(body, "instruction", max_len=2000)
    due_at = parse_time(body, "due_at")
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        order = await supervision.issue(s, c, actor, case, instruction, due_at)
        out = {**present.supervision_json(order), "case_code": case.code}
    return web.json_response(out, status=201)


@route("POST", "/api/cases/{code}/supervision/{order_id}/response", summary="Answer a supervision order",
         tag="supervision", params=[CODE_PARAM, r.path_param("order_id")], errors=(403, 404, 409),
         request=req(["response"], response=r.string(minLength=1, maxLength=5000)), response=SUPERVISION)
@domain
async def respond_supervision(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    order_id = path_int(request, "order_id")
    body = await read_json(request)
    text = field(body, "response", max_len=5000)
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        order = await supervision.respond(s, c, actor, case, order_id, text)
        out = {**present.supervision_json(order), "case_code": case.code}
    return web.json_response(out)


@route("GET", "/api/supervision", summary="Supervision orders on cases I can see (issued by or to my subtree)",
         tag="supervision", params=[r.query("status", r.string(enum=["open", "responded"]))],
         response=r.obj(["orders"], orders=r.array(SUPERVISION)))
@domain
async def list_supervision(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    status = request.query.get("status")
    if status not in (None, "open", "responded"):
        raise bad_request("status must be open or responded", "invalid_query")
    c = ctx(request)
    q = (select(SupervisionOrder, Case).join(Case, Case.id == SupervisionOrder.case_id)
         .where(access.scope_cases(actor, c.now)).order_by(SupervisionOrder.due_at).limit(200))
    if status:
        q = q.where(SupervisionOrder.status == status)
    async with services(request).db.session() as s:
        rows = (await s.execute(q)).all()
    out = [{**present.supervision_json(o), "case_code": case.code,
            "overdue": o.status == "open" and o.due_at < c.now} for o, case in rows]
    return web.json_response({"orders": out})


NOTIFICATION = r.schema("Notification", r.obj(
    ["id", "kind", "title", "read"], id=r.integer(), kind=r.string(), title=r.string(), body=r.string(),
    link={"type": "string", "nullable": True}, created_at=r.string(), read={"type": "boolean"},
))


@route("GET", "/api/notifications", summary="My notification centre (newest first)", tag="notifications",
         params=[r.query("unread", r.string(enum=["1", "0", "true", "false"]))],
         response=r.obj(["notifications", "unread"], notifications=r.array(NOTIFICATION), unread=r.integer()))
async def list_notifications(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    unread = request.query.get("unread")
    if unread is not None and unread not in ("1", "0", "true", "false"):
        raise bad_request("unread must be 1, 0, true or false", "invalid_query")
    unread_only = unread in ("1", "true")
    async with services(request).db.session() as s:
        rows, unread_count = await notifications.inbox(s, actor.id, unread_only=unread_only, limit=100)
    return web.json_response({"notifications": [notifications.notification_json(n) for n in rows],
                              "unread": unread_count})


@route("POST", "/api/notifications/read", summary="Mark notifications read (all when ids is absent)",
         tag="notifications", request=req(None, ids=r.array(r.integer())),
         response=r.obj(["marked"], marked=r.integer()))
async def read_notifications(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    ids = body.get("ids")
    if ids is not None and (not isinstance(ids, list) or len(ids) > 1000 or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in ids)):
        raise bad_request("ids must be a list of notification ids", "invalid_field", field="ids")
    async with services(request).db.session() as s:
        n = await notifications.mark_read(s, actor.id, ids, now_of(request))
    return web.json_response({"marked": n})


NOTICE = r.schema("Notice", r.obj(
    ["id", "kind", "title", "body", "unit"], id=r.integer(), kind=r.string(enum=list(notices.KINDS)),
    title=r.string(), body=r.string(), unit=r.string(), unit_name=r.string(), by=r.string(),
    case={"type": "string", "nullable": True}, created_at=r.string(),
))


@route("GET", "/api/notices", summary="The notice board (通报) from my unit, its ancestors and its sub-units",
         tag="notices", response=r.obj(["notices"], notices=r.array(NOTICE)))
async def list_notices(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with services(request).db.session() as s:
        out = await notices.board(s, actor, now=now_of(request))
    return web.json_response({"notices": out})


@route("POST", "/api/notices", summary="Circulate a notice (通报) to my unit's subtree", tag="notices",
         status=201, errors=(403, 404, 409),
         request=req(["kind", "title", "body"], kind=r.string(enum=list(notices.KINDS)),
                       title=r.string(minLength=1, maxLength=200), body=r.string(minLength=1, maxLength=10000),
                       case=r.string(maxLength=32, description="case code")),
         response=r.obj(["id"], id=r.integer()))
@domain
async def publish_notice(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    kind = field(body, "kind", max_len=16)
    title = field(body, "title", max_len=200)
    text = field(body, "body", max_len=10000)
    case_code = field(body, "case", required=False, max_len=32)
    c = ctx(request)
    async with services(request).db.session() as s:
        n = await notices.publish(s, c, actor, kind, title, text, case_code)
    return web.json_response({"id": n.id}, status=201)


# ---- expert consultations (远程指导) ------------------------------------------------------------------

CONSULTATION = r.schema("Consultation", r.obj(
    ["id", "specialty", "question", "status"], id=r.integer(), case_id=r.integer(), specialty=r.string(),
    question=r.string(), status=r.string(enum=["requested", "accepted", "declined", "completed", "cancelled"]),
    requested_by={"type": "object", "nullable": True}, expert={"type": "object", "nullable": True},
    grant_expires_at={"type": "string", "nullable": True}, session_id={"type": "integer", "nullable": True},
    scheduled_at={"type": "string", "nullable": True}, opinion={"type": "string", "nullable": True},
    requested_at=r.string(), case_code=r.string(), unit_name=r.string(), case_title=r.string(),
))
CONSULT_ID = r.path_param("cid")


@route("POST", "/api/cases/{code}/consultations", summary="Request an expert by specialty (远程指导)",
         tag="consultations", params=[CODE_PARAM], status=201, errors=(403, 404, 409), response=CONSULTATION,
         request=req(["specialty", "question"], specialty=r.string(maxLength=32),
                       question=r.string(minLength=1, maxLength=2000),
                       expert=r.string(maxLength=64, description="a named expert's username"),
                       grant_hours=r.integer(minimum=1, maximum=336)))
@domain
async def request_consultation(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    specialty = field(body, "specialty", max_len=32)
    question = field(body, "question", max_len=2000)
    hours = field(body, "grant_hours", int, required=False, default=consultations.DEFAULT_HOURS)
    expert = field(body, "expert", required=False, max_len=64)
    c = ctx(request)
    async with services(request).db.session() as s:
        target = (await staff_ids(s, [expert], "expert"))[0] if expert else None
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        cons = await consultations.request(s, c, actor, case, specialty, question, target, hours)
        out = {**present.consultation_json(cons), "case_code": case.code}
    return web.json_response(out, status=201)


@route("GET", "/api/consultations", summary="An expert's consultation inbox: requests to take and those taken",
         tag="consultations", response=r.obj(["consultations"], consultations=r.array(CONSULTATION)))
async def consultation_inbox(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with services(request).db.session() as s:
        rows = await consultations.inbox(s, actor, now_of(request))
    return web.json_response({"consultations": [
        {**present.consultation_json(cons), "case_code": case.code, "unit_name": unit.name, "case_title": case.title}
        for cons, case, unit in rows]})


@route("POST", "/api/consultations/{cid}/accept", summary="Accept a request: timed grant + consultation session",
         tag="consultations", params=[CONSULT_ID], errors=(404, 409), response=CONSULTATION,
         request=req(None, scheduled_at=r.string(format="date-time")))
@domain
async def accept_consultation(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    cid = path_int(request, "cid")
    body = await read_json(request)
    when = parse_when(body.get("scheduled_at"))
    c = ctx(request)
    async with services(request).db.session() as s:
        cons = await consultations.accept(s, c, actor, cid, when)
        out = present.consultation_json(cons)
    return web.json_response(out)


@route("POST", "/api/consultations/{cid}/decline", summary="Decline a request addressed to me",
         tag="consultations", params=[CONSULT_ID], errors=(404, 409), response=CONSULTATION,
         request=req(None, reason=r.string(maxLength=1000)))
@domain
async def decline_consultation(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    cid = path_int(request, "cid")
    body = await read_json(request)
    reason = field(body, "reason", required=False, max_len=1000, default="")
    c = ctx(request)
    async with services(request).db.session() as s:
        cons = await consultations.decline(s, c, actor, cid, reason)
        out = present.consultation_json(cons)
    return web.json_response(out)


@route("POST", "/api/cases/{code}/consultations/{cid}/opinion", summary="The expert's written opinion",
         tag="consultations", params=[CODE_PARAM, CONSULT_ID], errors=(403, 404, 409), response=CONSULTATION,
         request=req(["opinion"], opinion=r.string(minLength=1, maxLength=10000)))
@domain
async def consultation_opinion(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    cid = path_int(request, "cid")
    body = await read_json(request)
    opinion = field(body, "opinion", max_len=10000)
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        cons = await consultations.give_opinion(s, c, actor, case, cid, opinion)
        out = present.consultation_json(cons)
    return web.json_response(out)


@route("POST", "/api/cases/{code}/consultations/{cid}/cancel", summary="Withdraw an unanswered request",
         tag="consultations", params=[CODE_PARAM, CONSULT_ID], errors=(403, 404, 409), response=CONSULTATION)
@domain
async def cancel_consultation(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    cid = path_int(request, "cid")
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        cons = await consultations.cancel(s, c, actor, case, cid)
        out = present.consultation_json(cons)
    return web.json_response(out)


# ---- petitions (视频信访) ------------------------------------------------------------------------------

PETITION = r.schema("Petition", r.obj(
    ["id", "status"], id=r.integer(), petitioners=r.integer(), subject=r.string(), status=r.string(),
    hearing_session_id={"type": "integer", "nullable": True}, hearing_at={"type": "string", "nullable": True},
    panel=r.array(r.integer()), outcome={"type": "string", "nullable": True},
    reply_due_at={"type": "string", "nullable": True}, replied_at={"type": "string", "nullable": True},
))


@route("POST", "/api/petitions", summary="Register a video petition (a case of kind petition)", tag="petitions",
         status=201, errors=(403,), response=r.ref("CaseDetail"),
         request=req(["unit", "title", "subject"], unit=r.string(maxLength=32),
                       title=r.string(minLength=1, maxLength=200), subject=r.string(minLength=1, maxLength=5000),
                       petitioners=r.integer(minimum=1, maximum=1000), category=r.string(maxLength=32),
                       item=r.string(maxLength=32), parties=r.array(r.ref("CasePartyInput"))))
@domain
async def register_petition(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    draft = draft_from({k: v for k, v in body.items() if k not in ("source", "kind", "grade", "domestic_violence")})
    subject = field(body, "subject", max_len=5000)
    petitioners = field(body, "petitioners", int, required=False, default=1)
    c = ctx(request)
    async with services(request).db.session() as s:
        case, _ = await petitions.register_petition(s, c, actor, draft, subject, petitioners)
        out = await present.detail(s, case, actor, await facts(s, case, c.now), c.now)
    return web.json_response(out, status=201)


@route("POST", "/api/cases/{code}/petition/hearing", summary="Schedule the petition hearing with a panel",
         tag="petitions", params=[CODE_PARAM], errors=(403, 404, 409), response=PETITION,
         request=req(["panel", "scheduled_at"], panel=r.array(r.string(maxLength=64)),
                       scheduled_at=r.string(format="date-time"), title=r.string(maxLength=200)))
@domain
async def petition_hearing(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    when = parse_time(body, "scheduled_at")
    title = field(body, "title", required=False, max_len=200, default="")
    c = ctx(request)
    async with services(request).db.session() as s:
        panel = await staff_ids(s, body.get("panel"), "panel")
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        pet = await petitions.schedule_hearing(s, c, actor, case, panel, when, title)
        out = present.petition_json(pet)
    return web.json_response(out)


@route("POST", "/api/cases/{code}/petition/outcome", summary="Record the hearing outcome and reply deadline",
         tag="petitions", params=[CODE_PARAM], errors=(403, 404, 409), response=PETITION,
         request=req(["outcome"], outcome=r.string(minLength=1, maxLength=5000),
                       reply_due_at=r.string(format="date-time")))
@domain
async def petition_outcome(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    outcome = field(body, "outcome", max_len=5000)
    due = parse_time(body, "reply_due_at") if body.get("reply_due_at") is not None else None
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        pet = await petitions.record_outcome(s, c, actor, case, outcome, due)
        out = present.petition_json(pet)
    return web.json_response(out)


@route("POST", "/api/cases/{code}/petition/reply", summary="Record the written reply to the petitioner",
         tag="petitions", params=[CODE_PARAM], errors=(403, 404, 409), response=PETITION,
         request=req(["reply"], reply=r.string(minLength=1, maxLength=5000)))
@domain
async def petition_reply(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    reply = field(body, "reply", max_len=5000)
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        pet = await petitions.record_reply(s, c, actor, case, reply)
        out = present.petition_json(pet)
    return web.json_response(out)


# ---- domestic violence, sessions ------------------------------------------------------------------------

@route("POST", "/api/cases/{code}/dv-responses", summary="Record a staged DV response (告诫书/传唤/拘留)",
         tag="cases", params=[CODE_PARAM], status=201, errors=(403, 404, 409),
         request=req(["stage", "authority", "issued_at"], stage=r.string(enum=["warning_letter", "summons",
                                                                                 "detention"]),
                       authority=r.string(minLength=1, maxLength=100), issued_at=r.string(format="date-time"),
                       reference=r.string(maxLength=64), notes=r.string(maxLength=2000)),
         response=r.obj(["id", "stage"], id=r.integer(), stage=r.string()))
@domain
async def dv_response(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    stage = field(body, "stage", max_len=32)
    authority = field(body, "authority", max_len=100)
    issued = parse_time(body, "issued_at")
    reference = field(body, "reference", required=False, max_len=64, default="")
    notes = field(body, "notes", required=False, max_len=2000, default="")
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        resp = await dv.record_response(s, c, actor, case, stage, authority, issued, reference, notes)
    return web.json_response({"id": resp.id, "stage": resp.stage}, status=201)


CASE_SESSION = r.obj(["id", "kind", "settings"], id=r.integer(), kind=r.string(), title=r.string(),
                     scheduled_at={"type": "string", "nullable": True}, settings={"type": "object"})


def _session_json(sess) -> dict:  # type: ignore[no-untyped-def]
    return {"id": sess.id, "kind": sess.kind, "title": sess.title, "scheduled_at": present.iso(sess.scheduled_at),
            "settings": sess.settings or {}}


@route("POST", "/api/cases/{code}/sessions", summary="Schedule a mediation session for the case "
         "(DV cases default to shuttle mediation)", tag="cases", params=[CODE_PARAM], status=201,
         errors=(403, 404, 409), response=CASE_SESSION,
         request=req(None, title=r.string(maxLength=200), scheduled_at=r.string(format="date-time")))
@domain
async def schedule_session(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    title = field(body, "title", required=False, max_len=200, default="")
    when = case_sessions.parse_when(body.get("scheduled_at"))
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        sess = await case_sessions.schedule_mediation(s, c, actor, case, title, when)
        out = _session_json(sess)
    return web.json_response(out, status=201)


@route("POST", "/api/cases/{code}/sessions/{sid}/joint-override", summary="Allow both sides of a DV case "
         "into one room for this session (explicit, ledgered)", tag="cases",
         params=[CODE_PARAM, r.path_param("sid")], errors=(403, 404, 409), response=CASE_SESSION,
         request=req(["reason"], reason=r.string(minLength=1, maxLength=1000)))
@domain
async def joint_override(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    sid = path_int(request, "sid")
    body = await read_json(request)
    reason = field(body, "reason", max_len=1000)
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        sess = await case_sessions.joint_override(s, c, actor, case, sid, reason)
        out = _session_json(sess)
    return web.json_response(out)
