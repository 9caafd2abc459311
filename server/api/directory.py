"""Login, units and staff as JSON."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from server.api import registry as r
from server.auth import actor_of, issue_api_token, require_actor
from server.directory.models import Staff, Unit
from server.errors import ApiError, field, forbidden, not_found, read_json, unauthorized
from server.policy import can_list_staff, can_view_unit
from server.security.passwords import DUMMY_HASH, check_password

UNIT = r.schema("Unit", r.obj(
    ["code", "name", "tier", "parent"],
    code=r.string(), name=r.string(), tier=r.string(enum=["city", "county", "township", "village"]),
    parent={"type": "string", "nullable": True},
))
USER = r.schema("User", r.obj(
    ["id", "username", "name", "role", "unit"],
    id=r.integer(), username=r.string(), name=r.string(), role=r.string(), unit=r.string(), tier=r.string(),
    specialties=r.array(r.string()),
))

LOGIN_FAILURE = "用户名或密码错误 / wrong username or password"


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


async def authenticate(request: web.Request, username: str, password: str) -> tuple[Staff, Unit]:
    """Shared by the API and the login form: rate-limited, same answer whether or not the user exists."""
    limiter = request.app["login_limiter"]
    keys = (f"user:{username.lower()}", f"ip:{client_ip(request)}")
    if any(limiter.blocked(k) for k in keys):
        raise ApiError(429, "rate_limited", "too many failed logins; try again later")
    async with request.app["db"].session() as s:
        row = (await s.execute(
            select(Staff, Unit).join(Unit, Staff.unit_id == Unit.id).where(Staff.username == username)
        )).first()
    staff_hash = row[0].password_hash if row and row[0].active else DUMMY_HASH
    ok = check_password(password, staff_hash) and row is not None and row[0].active
    if not ok or row is None:
        for k in keys:
            limiter.hit(k)
        raise unauthorized(LOGIN_FAILURE)
    limiter.reset(keys[0])
    return row[0], row[1]


@r.route("POST", "/api/auth/login", summary="Log in and get a bearer token", tag="auth", auth=False,
         request=r.obj(["username", "password"], username=r.string(maxLength=64), password=r.string(maxLength=256)),
         response=r.obj(["token", "user"], token=r.string(), user=USER), errors=(429,))
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, 4096)
    username = field(body, "username", max_len=64)
    password = field(body, "password", max_len=256)
    staff, unit = await authenticate(request, username, password)
    token = issue_api_token(request.app["config"].secret_key, staff.id)
    return web.json_response({"token": token, "user": actor_of(staff, unit).as_dict()})


@r.route("GET", "/api/auth/me", summary="The logged-in user", tag="auth", response=USER)
async def me(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return web.json_response(actor.as_dict())


def unit_json(u: Unit, parent_code: str | None) -> dict:
    return {"code": u.code, "name": u.name, "tier": u.tier, "parent": parent_code}


@r.route("GET", "/api/units", summary="Units the caller may see (own unit and descendants)", tag="directory",
         response=r.obj(["units"], units=r.array(UNIT)),
         params=[r.query("tier", r.string(enum=["city", "county", "township", "village"])),
                 r.query("under", description="unit code: only this subtree")],
         errors=(404,))
async def list_units(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    tier = request.query.get("tier")
    under = request.query.get("under")
    cache = request.app["units_cache"]
    units = await cache.all(request.app["db"])
    root = actor.unit_path
    if under:
        u = cache.by_code.get(under)
        if u is None or not can_view_unit(actor, u["path"]):
            raise not_found(f"unknown unit {under!r}")
        root = u["path"]
    out = [u["json"] for u in units if u["path"].startswith(root) and (not tier or u["json"]["tier"] == tier)]
    return web.json_response({"units": out})


@r.route("GET", "/api/units/{code}", summary="One unit with its children", tag="directory",
         params=[r.path_param("code", r.string())], response=UNIT, errors=(404,))
async def get_unit(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    cache = request.app["units_cache"]
    await cache.all(request.app["db"])
    u = cache.by_code.get(request.match_info["code"])
    if u is None or not can_view_unit(actor, u["path"]):
        raise not_found("unknown unit")
    children = [c["json"] for c in cache.rows if c["json"]["parent"] == u["json"]["code"]]
    return web.json_response({**u["json"], "children": children})


@r.route("GET", "/api/staff", summary="Staff the caller may see, filtered", tag="directory",
         params=[r.query("unit", description="unit code (subtree)"), r.query("role"),
                 r.query("specialty"), r.query("tier"), r.query("q", description="name contains")],
         response=r.obj(["staff"], staff=r.array(USER)), errors=(403, 404))
async def list_staff(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = request.query
    cache = request.app["units_cache"]
    await cache.all(request.app["db"])
    root = actor.unit_path
    if q.get("unit"):
        u = cache.by_code.get(q["unit"])
        if u is None or not can_view_unit(actor, u["path"]):
            raise not_found("unknown unit")
        root = u["path"]
    if not can_list_staff(actor, root):
        raise forbidden()
    stmt = select(Staff, Unit).join(Unit, Staff.unit_id == Unit.id).where(
        Unit.path.startswith(root, autoescape=True), Staff.active.is_(True)).order_by(Unit.path, Staff.id)
    if q.get("role"):
        stmt = stmt.where(Staff.role == q["role"])
    if q.get("tier"):
        stmt = stmt.where(Unit.tier == q["tier"])
    if q.get("q"):
        stmt = stmt.where(Staff.name.contains(q["q"][:50], autoescape=True))
    async with request.app["db"].session() as s:
        rows = (await s.execute(stmt)).all()
    spec = q.get("specialty")
    staff = [actor_of(st, un).as_dict() for st, un in rows if not spec or spec in (st.specialties or [])]
    return web.json_response({"staff": staff})


def setup(app: web.Application) -> None:
    """Routes are registered through the registry; nothing else to wire."""
