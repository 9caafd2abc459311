"""Work around a case as JSON: supervision (督办), the notification centre, the notice board (通报)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from server.api import registry as r
from server.api.cases import CODE_PARAM, ctx, domain, path_int
from server.auth import require_actor
from server.cases import notices, notifications, present, supervision
from server.cases.models import Case, SupervisionOrder
from server.cases.queries import get_visible, visible
from server.errors import bad_request, field, read_json

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def parse_time(body: dict[str, Any], name: str) -> datetime:
    """ISO 8601; without an offset it is read as China Standard Time (the users' wall clock)."""
    raw = field(body, name, max_len=40)
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as e:
        raise bad_request(f"{name} must be an ISO 8601 time", "invalid_field", field=name) from e
    if at.tzinfo is None:
        at = at.replace(tzinfo=LOCAL_TZ)
    return at.astimezone(UTC)


SUPERVISION = r.schema("SupervisionOrder", r.obj(
    ["id", "instruction", "due_at", "status"], id=r.integer(), case_id=r.integer(), instruction=r.string(),
    due_at=r.string(), status=r.string(enum=["open", "responded"]), response={"type": "string", "nullable": True},
    responded_at={"type": "string", "nullable": True}, issued_by={"type": "object", "nullable": True},
    created_at=r.string(), case_code=r.string(), overdue={"type": "boolean"},
))


@r.route("POST", "/api/cases/{code}/supervision", summary="Issue a supervision order (督办) from a higher tier",
         tag="supervision", params=[CODE_PARAM], status=201, errors=(403, 404, 409), response=SUPERVISION,
         request=r.obj(["instruction", "due_at"], instruction=r.string(minLength=1, maxLength=2000),
                       due_at=r.string(format="date-time")))
@domain
async def issue_supervision(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    instruction = field(body, "instruction", max_len=2000)
    due_at = parse_time(body, "due_at")
    c = ctx(request)
    async with request.app["db"].session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        order = await supervision.issue(s, c, actor, case, instruction, due_at)
        out = {**present.supervision_json(order), "case_code": case.code}
    return web.json_response(out, status=201)


@r.route("POST", "/api/cases/{code}/supervision/{order_id}/response", summary="Answer a supervision order",
         tag="supervision", params=[CODE_PARAM, r.path_param("order_id")], errors=(403, 404, 409),
         request=r.obj(["response"], response=r.string(minLength=1, maxLength=5000)), response=SUPERVISION)
@domain
async def respond_supervision(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    order_id = path_int(request, "order_id")
    body = await read_json(request)
    text = field(body, "response", max_len=5000)
    c = ctx(request)
    async with request.app["db"].session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        order = await supervision.respond(s, c, actor, case, order_id, text)
        out = {**present.supervision_json(order), "case_code": case.code}
    return web.json_response(out)


@r.route("GET", "/api/supervision", summary="Supervision orders on cases I can see (issued by or to my subtree)",
         tag="supervision", params=[r.query("status", r.string(enum=["open", "responded"]))],
         response=r.obj(["orders"], orders=r.array(SUPERVISION)))
@domain
async def list_supervision(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    status = request.query.get("status")
    if status not in (None, "", "open", "responded"):
        raise bad_request("status must be open or responded", "invalid_query")
    c = ctx(request)
    q = (select(SupervisionOrder, Case).join(Case, Case.id == SupervisionOrder.case_id)
         .where(visible(actor, c.now)).order_by(SupervisionOrder.due_at).limit(200))
    if status:
        q = q.where(SupervisionOrder.status == status)
    async with request.app["db"].session() as s:
        rows = (await s.execute(q)).all()
    out = [{**present.supervision_json(o), "case_code": case.code,
            "overdue": o.status == "open" and o.due_at < c.now} for o, case in rows]
    return web.json_response({"orders": out})


NOTIFICATION = r.schema("Notification", r.obj(
    ["id", "kind", "title", "read"], id=r.integer(), kind=r.string(), title=r.string(), body=r.string(),
    link={"type": "string", "nullable": True}, created_at=r.string(), read={"type": "boolean"},
))


@r.route("GET", "/api/notifications", summary="My notification centre (newest first)", tag="notifications",
         params=[r.query("unread", r.string(enum=["1", "0", "true", "false"]))],
         response=r.obj(["notifications", "unread"], notifications=r.array(NOTIFICATION), unread=r.integer()))
async def list_notifications(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    unread_only = request.query.get("unread") in ("1", "true")
    async with request.app["db"].session() as s:
        rows, unread = await notifications.inbox(s, actor.id, unread_only=unread_only, limit=100)
    return web.json_response({"notifications": [notifications.notification_json(n) for n in rows],
                              "unread": unread})


@r.route("POST", "/api/notifications/read", summary="Mark notifications read (all when ids is absent)",
         tag="notifications", request=r.obj(None, ids=r.array(r.integer())),
         response=r.obj(["marked"], marked=r.integer()))
async def read_notifications(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    ids = body.get("ids")
    if ids is not None and (not isinstance(ids, list) or len(ids) > 1000 or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in ids)):
        raise bad_request("ids must be a list of notification ids", "invalid_field", field="ids")
    async with request.app["db"].session() as s:
        n = await notifications.mark_read(s, actor.id, ids, request.app["clock"].now())
    return web.json_response({"marked": n})


NOTICE = r.schema("Notice", r.obj(
    ["id", "kind", "title", "body", "unit"], id=r.integer(), kind=r.string(enum=list(notices.KINDS)),
    title=r.string(), body=r.string(), unit=r.string(), unit_name=r.string(), by=r.string(),
    case={"type": "string", "nullable": True}, created_at=r.string(),
))


@r.route("GET", "/api/notices", summary="The notice board (通报) from my unit, its ancestors and its sub-units",
         tag="notices", response=r.obj(["notices"], notices=r.array(NOTICE)))
async def list_notices(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with request.app["db"].session() as s:
        out = await notices.board(s, actor)
    return web.json_response({"notices": out})


@r.route("POST", "/api/notices", summary="Circulate a notice (通报) to my unit's subtree", tag="notices",
         status=201, errors=(403, 404, 409),
         request=r.obj(["kind", "title", "body"], kind=r.string(enum=list(notices.KINDS)),
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
    async with request.app["db"].session() as s:
        n = await notices.publish(s, c, actor, kind, title, text, case_code)
    return web.json_response({"id": n.id}, status=201)

