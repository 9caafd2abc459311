"""Login, units, staff and experts as JSON."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.api import registry as r
from server.auth import actor_of, issue_api_token, require_actor, sign_out
from server.directory.http.signin import (
    LOGIN_ADDRESS_LIMIT,
    LOGIN_WINDOW_S,
    authenticate,
)
from server.directory.http.staff import ROLES, SPECIALTIES, TIERS, create_staff, parse_new_staff, visible_unit
from server.directory.models import Staff, Unit
from server.directory.queries import experts_for
from server.errors import (
    bad_request,
    field,
    forbidden,
    read_json,
)
from server.policy import can_list_staff
from server.security.attempts import attempts
from server.services import services

log = logging.getLogger("concord.directory")


UNIT = r.schema("Unit", r.obj(
    ["code", "name", "tier", "parent"],
    code=r.string(), name=r.string(), tier=r.string(enum=TIERS),
    parent={"type": "string", "nullable": True},
))
USER = r.schema("User", r.obj(
    ["id", "username", "name", "role", "unit"],
    id=r.integer(), username=r.string(), name=r.string(), role=r.string(enum=ROLES), unit=r.string(),
    tier=r.string(enum=TIERS), specialties=r.array(r.string(enum=SPECIALTIES)),
))
EXPERT = r.schema("Expert", r.obj(
    ["id", "name", "specialties", "unit", "unit_name", "tier"],
    id=r.integer(), username=r.string(), name=r.string(), specialties=r.array(r.string(enum=SPECIALTIES)),
    unit=r.string(), unit_name=r.string(), tier=r.string(enum=TIERS),
))



def _choice(request: web.Request, name: str, allowed: list[str]) -> str | None:
    """An optional enumerated query filter; anything else is a clear 400, not an empty result."""
    if name not in request.query:
        return None
    value = request.query[name]
    if value not in allowed:
        raise bad_request(f"{name} must be one of: {', '.join(allowed)}", "invalid_filter", field=name)
    return value


@r.route("POST", "/api/auth/login", summary="Log in and get a bearer token", tag="auth", auth=False,
         request=r.obj(["username", "password"], username=r.string(maxLength=64), password=r.string(maxLength=256)),
         response=r.obj(["token", "user"], token=r.string(), user=USER), errors=(401, 413, 429))
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, 4096)
    username = field(body, "username", max_len=64)
    password = field(body, "password", max_len=256)
    staff, unit = await authenticate(request, username, password)
    token = issue_api_token(services(request).config.secret_key, staff.id)
    return web.json_response({"token": token, "user": actor_of(staff, unit).as_dict()})


@r.route("POST", "/api/auth/logout", summary="Log out: every token and cookie of this account stops working",
         tag="auth", status=204, errors=(401,))
async def logout(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    await sign_out(request.app, actor.id, "api")
    return web.Response(status=204)


@r.route("GET", "/api/auth/me", summary="The logged-in user", tag="auth", response=USER)
async def me(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return web.json_response(actor.as_dict())


@r.route("GET", "/api/units", summary="Units the caller may see (own unit and descendants)", tag="directory",
         response=r.obj(["units"], units=r.array(UNIT)),
         params=[r.query("tier", r.string(enum=TIERS)),
                 r.query("under", description="unit code: only this subtree")],
         errors=(403, 404), strict_query=True)
async def list_units(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    tier = _choice(request, "tier", TIERS)
    under = request.query.get("under")
    cache = services(request).units_cache
    await cache.all(services(request).db)
    root = (await visible_unit(request, actor, under))["path"] if under is not None else actor.unit_path
    # The list only changes when the tree does: serialise each (subtree, tier) answer once per reload.
    key = ("units", root, tier)
    body = cache.memo.get(key)
    if body is None:
        units = [u["json"] for u in cache.rows if u["path"].startswith(root) and (not tier or u["json"]["tier"] == tier)]
        body = cache.memo[key] = web.json_response({"units": units}).body
    return web.Response(body=body, content_type="application/json")


@r.route("GET", "/api/units/{code}", summary="One unit with its children", tag="directory",
         params=[r.path_param("code", r.string())],
         response={"allOf": [UNIT, r.obj(["children"], children=r.array(UNIT))]}, errors=(403, 404))
async def get_unit(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    u = await visible_unit(request, actor, request.match_info["code"])
    rows = services(request).units_cache.rows
    children = [c["json"] for c in rows if c["json"]["parent"] == u["json"]["code"]]
    return web.json_response({**u["json"], "children": children})


@r.route("GET", "/api/staff", summary="Staff the caller may see, filtered", tag="directory",
         params=[r.query("unit", description="unit code (subtree)"), r.query("role", r.string(enum=ROLES)),
                 r.query("specialty", r.string(enum=SPECIALTIES)), r.query("tier", r.string(enum=TIERS)),
                 r.query("q", description="name contains")],
         response=r.obj(["staff"], staff=r.array(USER)), errors=(403, 404), strict_query=True)
async def list_staff(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = request.query
    role = _choice(request, "role", ROLES)
    tier = _choice(request, "tier", TIERS)
    spec = _choice(request, "specialty", SPECIALTIES)
    root = (await visible_unit(request, actor, q["unit"]))["path"] if "unit" in q else actor.unit_path
    if not can_list_staff(actor, root):
        raise forbidden()
    stmt = select(Staff, Unit).join(Unit, Staff.unit_id == Unit.id).where(
        Unit.path.startswith(root, autoescape=True), Staff.active.is_(True)).order_by(Unit.path, Staff.id)
    if role:
        stmt = stmt.where(Staff.role == role)
    if tier:
        stmt = stmt.where(Unit.tier == tier)
    if q.get("q"):
        stmt = stmt.where(Staff.name.contains(q["q"][:50], autoescape=True))
    async with services(request).db.read() as s:
        rows = (await s.execute(stmt)).all()
    staff = [actor_of(st, un).as_dict() for st, un in rows if not spec or spec in (st.specialties or [])]
    return web.json_response({"staff": staff})


def expert_json(st: Staff, un: Unit) -> dict[str, Any]:
    return {"id": st.id, "username": st.username, "name": st.name, "specialties": list(st.specialties or []),
            "unit": un.code, "unit_name": un.name, "tier": un.tier}


@r.route("GET", "/api/experts", summary="Experts the caller may call on (own subtree and own ancestors)",
         tag="directory",
         params=[r.query("specialty", r.string(enum=SPECIALTIES)), r.query("tier", r.string(enum=TIERS)),
                 r.query("q", description="name contains")],
         response=r.obj(["experts"], experts=r.array(EXPERT)), strict_query=True)
async def list_experts(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    rows = await experts_for(services(request).db, actor, specialty=_choice(request, "specialty", SPECIALTIES),
                             tier=_choice(request, "tier", TIERS), name=(request.query.get("q") or "")[:50] or None)
    return web.json_response({"experts": [expert_json(st, un) for st, un in rows]})


NEW_STAFF = {
    **r.obj(
        ["username", "role", "unit", "password"],
        username=r.string(maxLength=64, pattern="^[A-Za-z0-9_.-]+$"), name=r.string(maxLength=100),
        role=r.string(enum=ROLES), unit=r.string(maxLength=32), password=r.string(minLength=8, maxLength=256),
        specialties=r.array(r.string(enum=SPECIALTIES)), phone=r.string(maxLength=40),
    ),
    # Only experts have specialties.
    "anyOf": [{"properties": {"role": {"enum": ["expert"]}}}, {"properties": {"specialties": {"maxItems": 0}}}],
}


@r.route("POST", "/api/staff", summary="Create a staff account (administrators, own subtree)", tag="directory",
         request=NEW_STAFF, response=USER, status=201, errors=(403, 404, 409, 413))
async def post_staff(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    if not actor.is_admin:
        raise forbidden("only administrators create accounts")
    data = parse_new_staff(await read_json(request, 16 * 1024))
    staff, unit = await create_staff(request, actor, data)
    return web.json_response(actor_of(staff, unit).as_dict(), status=201)


def setup(app: web.Application) -> None:
    """Routes are registered through the registry; the address's login budget is wired here."""
    services(app).login_address_limiter = attempts(services(app), "login-address", LOGIN_ADDRESS_LIMIT, LOGIN_WINDOW_S)
