"""Sessions API: create, list, detail, cancel, end, invitations and staff join tokens."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server import access
from server.api import registry as r
from server.auth import require_actor
from server.errors import ApiError, bad_request, field, read_json
from server.http import client_ip, http_status, now_of, path_id, query_id, query_int
from server.security.ratelimit import RateLimiter
from server.services import services
from server.sessions import kinds, service
from server.sessions.http.keys import CASE_GATE
from server.sessions.models import STATES
from server.sessions.service import SessionError

SESSION = r.schema("Session", r.obj(
    ["id", "kind", "title", "unit", "state"],
    id=r.integer(), kind=r.string(enum=list(kinds.KINDS)), title=r.string(), unit=r.string(),
    unit_name=r.string(), case_id={"type": "integer", "nullable": True},
    state=r.string(enum=["scheduled", "live", "ended", "cancelled", "interrupted"]),
    scheduled_at={"type": "string", "format": "date-time", "nullable": True},
    started_at={"type": "string", "format": "date-time", "nullable": True},
    ended_at={"type": "string", "format": "date-time", "nullable": True},
    created_by={"type": "integer", "nullable": True}, created_at=r.string(format="date-time"),
    rules={"type": "object"},
))
INVITATION = r.schema("Invitation", r.obj(
    ["id", "role", "name", "check", "expires_at"],
    id=r.integer(), role=r.string(), name=r.string(), staff_id={"type": "integer", "nullable": True},
    check=r.string(enum=list(service.CHECK_METHODS)), expires_at=r.string(format="date-time"),
    revoked={"type": "boolean"}, token=r.string(), url=r.string(), code=r.string(pattern="^[0-9]{6}$"),
))
SID = [r.path_param("id")]


def _err(e: SessionError) -> ApiError:
    return ApiError(http_status(e), e.code, e.message)


async def _load(s: Any, actor: Any, request: web.Request) -> tuple[Any, Any]:
    """The session named in the path, if the actor may see it; a JSON 404 otherwise."""
    try:
        return await service.load(s, actor, _sid(request), now=now_of(request))
    except SessionError as e:
        raise _err(e) from None


def _hub(request: web.Request) -> Any:
    return services(request).room_hub


@r.route("POST", "/api/sessions", summary="Create a session (mediation, consultation, petition or dispatch)",
         tag="sessions", status=201,
         request=r.obj(["kind", "title", "unit"], kind=r.string(enum=list(kinds.KINDS)), title=r.string(maxLength=200),
                       unit=r.string(), case_id=r.integer(),
                       scheduled_at=r.string(format="date-time",
                                             description="ISO 8601; without an offset it is Asia/Shanghai time")),
         response=SESSION, errors=(400, 403, 404))
async def create(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, 16 * 1024)
    kind = field(body, "kind", max_len=20)
    title = field(body, "title", max_len=200).strip()
    if not title:
        raise bad_request("title is empty", "invalid_field", field="title")
    unit = field(body, "unit", max_len=32)
    case_id = field(body, "case_id", int, required=False)
    if case_id is not None and case_id <= 0:
        raise bad_request("case_id must be positive", "invalid_field", field="case_id")
    when = field(body, "scheduled_at", required=False, max_len=40)
    try:
        scheduled = service.parse_time(when) if when else None
        async with services(request).db.session() as s:
            sess, u = await service.create_session(s, actor, now=now_of(request), kind=kind, title=title, unit_code=unit,
                                                   case_id=case_id, scheduled_at=scheduled,
                                                   cases=request.app[CASE_GATE])
            out = service.session_json(sess, u)
    except SessionError as e:
        raise _err(e) from None
    return web.json_response(out, status=201)


@r.route("GET", "/api/sessions", summary="Sessions the caller may see (own subtree, or invited)", tag="sessions",
         params=[r.query("state", r.string(enum=["scheduled", "live", "ended", "cancelled", "interrupted"])),
                 r.query("kind", r.string(enum=list(kinds.KINDS))), r.query("unit", description="unit code subtree"),
                 r.id_query("case_id"), r.query("limit", r.integer(minimum=1, maximum=200))],
         response=r.obj(["sessions"], sessions=r.array(SESSION)), errors=(400, 404), strict_query=True)
async def list_(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = request.query
    for name, allowed in (("state", STATES), ("kind", kinds.KINDS)):
        if name in q and q[name] not in allowed:
            raise bad_request(f"{name} must be one of: {', '.join(allowed)}", "invalid_filter", field=name)
    unit_path = None
    if q.get("unit"):
        cache = services(request).units_cache
        await cache.all(services(request).db)
        u = cache.by_code.get(q["unit"])
        if u is None or not access.sees(actor, access.Record(access.Kind.UNIT, u["path"])):
            raise ApiError(404, "not_found", "unknown unit")
        unit_path = u["path"]
    case_id = query_id(request, "case_id")
    limit = query_int(request, "limit", 100, 1, 200)
    async with services(request).db.session() as s:
        rows = await service.list_sessions(s, actor, state=q.get("state"), kind=q.get("kind"), unit_path=unit_path,
                                           case_id=case_id, limit=limit, now=now_of(request))
        out = [service.session_json(x, u) for x, u in rows]
    return web.json_response({"sessions": out})


def _sid(request: web.Request) -> int:
    return path_id(request, "id", "no such session")


@r.route("GET", "/api/sessions/{id}", summary="One session: details, the caller's room role, invitations",
         tag="sessions", params=SID, response=SESSION, errors=(404,))
async def detail(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    secret = services(request).config.secret_key
    async with services(request).db.session() as s:
        sess, unit = await _load(s, actor, request)
        out = service.session_json(sess, unit)
        manage = await service.can_manage(s, actor, sess, unit, now_of(request))
        out["can_moderate"] = manage
        out["my_role"] = await service.staff_join_role(s, actor, sess, unit)
        if manage:
            out["invitations"] = [service.invitation_json(secret, i) for i in await service.list_invitations(s, sess.id)]
    hub = _hub(request)
    out["room"] = hub.snapshot(sess.id) if hub is not None else None
    return web.json_response(out)


async def _close_room(request: web.Request, sess: Any, reason: str) -> bool:
    """End the live room, if any node holds people in it. True when the room took the end."""
    hub = _hub(request)
    if hub is None:
        return False
    return await hub.end_session(service.room_meta(sess), reason)


@r.route("POST", "/api/sessions/{id}/cancel", summary="Cancel a session that has not started", tag="sessions",
         params=SID, response=SESSION, errors=(403, 404, 409))
async def cancel(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with services(request).db.session() as s:
        try:
            sess, unit = await service.cancel(s, actor, _sid(request), now_of(request))
        except SessionError as e:
            raise _err(e) from None
        out = service.session_json(sess, unit)
    await _close_room(request, sess, "cancelled")  # people waiting in the lobby are sent home
    return web.json_response(out)


@r.route("POST", "/api/sessions/{id}/end", summary="End a live session for everybody", tag="sessions",
         params=SID, response=SESSION, errors=(403, 404, 409))
async def end(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    db = services(request).db
    async with db.session() as s:
        sess, unit = await _load(s, actor, request)
        if not await service.can_manage(s, actor, sess, unit, now_of(request)):
            raise ApiError(403, "forbidden", "only the session's hosts may end it")
        if sess.state not in ("live", "interrupted", "scheduled"):
            raise ApiError(409, "conflict", f"the session is already {sess.state}")
    took = await _close_room(request, sess, "ended_by_api")
    async with db.session() as s:
        sess, unit = await service.load(s, actor, sess.id, now=now_of(request))
        if sess.state != "ended" and not took:
            await service.set_state(s, sess, "ended", actor, "ended_by_api")
        out = service.session_json(sess, unit)
    if took:
        out["state"] = "ended"
    return web.json_response(out)


@r.route("POST", "/api/sessions/{id}/invitations", summary="Invite someone: a signed, expiring join link",
         tag="sessions", params=SID, status=201,
         request=r.obj(["name"], role=r.string(enum=list(kinds.PERSON_ROLES)), name=r.string(maxLength=100),
                       username=r.string(description="a staff account: the link joins as that person"),
                       check=r.obj(["method"], method=r.string(enum=["id_last4", "code"]),
                                   value=r.string(description="id_last4: last 4 characters of the ID number")),
                       ttl_hours=r.integer(minimum=1, maximum=720)),
         response=INVITATION, errors=(400, 403, 404, 409))
async def invite(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, 8 * 1024)
    username = field(body, "username", required=False, max_len=64)
    name = field(body, "name", required=username is None, max_len=100)
    role = field(body, "role", required=False, max_len=20)
    check = field(body, "check", dict, required=False) or {}
    method = field(check, "method", required=False, max_len=20) or "none"
    value = field(check, "value", required=False, max_len=32)
    ttl_h = field(body, "ttl_hours", int, required=False)
    if ttl_h is not None and not 1 <= ttl_h <= 720:
        raise bad_request("ttl_hours must be 1-720", "invalid_field", field="ttl_hours")
    secret = services(request).config.secret_key
    async with services(request).db.session() as s:
        try:
            sess, unit = await service.load(s, actor, _sid(request), now=now_of(request))
            inv, code = await service.create_invitation(
                s, secret, actor, sess, unit, role=role or kinds.rules(sess.kind).default_invite_role, name=name,
                username=username, check_method=method, check_value=value,
                ttl_s=ttl_h * 3600 if ttl_h else None, at=now_of(request))
        except SessionError as e:
            raise _err(e) from None
        out = service.invitation_json(secret, inv)
    if code is not None:
        out["code"] = code  # shown once, to be read out to the party; only its hash is stored
    return web.json_response(out, status=201)


@r.route("GET", "/api/sessions/{id}/invitations", summary="A session's invitations (hosts only)",
         tag="sessions", params=SID, response=r.obj(["invitations"], invitations=r.array(INVITATION)),
         errors=(403, 404))
async def invitations(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    secret = services(request).config.secret_key
    async with services(request).db.session() as s:
        sess, unit = await _load(s, actor, request)
        if not await service.can_manage(s, actor, sess, unit, now_of(request)):
            raise ApiError(403, "forbidden", "only the session's hosts see its invitations")
        out = [service.invitation_json(secret, i) for i in await service.list_invitations(s, sess.id)]
    return web.json_response({"invitations": out})


@r.route("DELETE", "/api/sessions/{id}/invitations/{inv}", summary="Revoke an invitation", tag="sessions",
         params=SID + [r.path_param("inv")], response=INVITATION, errors=(403, 404))
async def revoke(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    secret = services(request).config.secret_key
    inv_id = path_id(request, "inv", "no such invitation")
    async with services(request).db.session() as s:
        try:
            sess, unit = await service.load(s, actor, _sid(request), now=now_of(request))
            inv = await service.revoke_invitation(s, actor, sess, unit, inv_id, now_of(request))
        except SessionError as e:
            raise _err(e) from None
        out = service.invitation_json(secret, inv)
    return web.json_response(out)


@r.route("POST", "/api/sessions/{id}/join-token", summary="A join token for the logged-in staff member",
         tag="sessions", params=SID,
         response=r.obj(["token", "role", "name", "session_id"], token=r.string(), role=r.string(),
                        name=r.string(), session_id=r.integer(), ws_url=r.string()),
         errors=(404, 409))
async def join_token(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    secret = services(request).config.secret_key
    async with services(request).db.session() as s:
        sess, unit = await _load(s, actor, request)
        if sess.state not in service.JOINABLE_STATES:
            raise ApiError(409, "session_closed", f"the session is {sess.state}")
        role = await service.staff_join_role(s, actor, sess, unit)
    token = service.staff_join_token(secret, actor, sess, role)
    return web.json_response({"token": token, "role": role, "name": actor.name, "session_id": sess.id,
                              "ws_url": "/ws"})


@r.route("GET", "/api/join/{token}", summary="What an invitation link is for (used by the join page)",
         tag="sessions", auth=False, params=[r.path_param("token", r.string())],
         response=r.obj(["session", "role", "name", "check"], session={"type": "object"}, role=r.string(),
                        name=r.string(), check=r.string(enum=list(service.CHECK_METHODS)),
                        lobby={"type": "boolean"}),
         errors=(401, 403, 410, 429))
async def describe(request: web.Request) -> web.Response:
    limiter: RateLimiter = services(request).join_describe_limiter
    if limiter.hit(f"ip:{client_ip(request)}"):
        raise ApiError(429, "rate_limited", "too many requests; try again later")
    try:
        out = await service.describe_join(services(request).db, services(request).config.secret_key,
                                          request.match_info["token"], now_of(request))
    except SessionError as e:
        raise _err(e) from None
    return web.json_response(out)


def setup(app: web.Application) -> None:
    services(app).join_describe_limiter = RateLimiter(limit=120, window_s=60)
