"""The public intake page (no login, CSRF, rate-limited) and printable contact cards with a QR code."""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import select

from server.cases import intake
from server.cases.errors import CaseError
from server.cases.permissions import ON_CASE
from server.cases.qr import qr_svg
from server.cases.queries import path_prefix
from server.cases.service import Ctx
from server.directory.models import Staff, Unit
from server.errors import ApiError
from server.security.clientip import client_ip
from server.security.ratelimit import RateLimiter
from server.views.cases import _page, base_url
from server.views.render import check_csrf, render, require_login

PER_IP_PER_HOUR = 10  # a village's shared connection may carry several families
PER_PHONE_PER_DAY = 3


async def _form(request: web.Request, form: intake.IntakeForm | None = None, error: str | None = None,
                status: int = 200) -> web.Response:
    async with request.app["db"].session() as s:
        units = await intake.intake_units(s)
        staff = None
        hint = request.query.get("staff") or (form.staff if form else None)
        if hint:
            staff = (await s.execute(select(Staff, Unit).join(Unit, Unit.id == Staff.unit_id).where(
                Staff.username == hint[:64], Staff.active.is_(True), Staff.role.in_([str(r) for r in ON_CASE]))
            )).first()
    selected = (form.unit if form else None) or request.query.get("unit", "")[:32]
    if not selected and staff:
        selected = staff[1].code
    return await _page(request, "cases/intake.html", {
        "units": units, "selected": selected, "form": form, "errors": (form.errors if form else {}),
        "error": error, "contact": staff, "choices": intake.CHOICES,
    }, status=status)


async def intake_page(request: web.Request) -> web.StreamResponse:
    return await _form(request)


async def intake_submit(request: web.Request) -> web.StreamResponse:
    try:
        data = await check_csrf(request)
    except ApiError:
        return await _form(request, error="页面已过期，请刷新后重新提交。/ The page expired; reload and try again.",
                           status=403)
    limiter: RateLimiter = request.app["intake_limiter"]
    ip = client_ip(request)
    if data.get("website"):  # the honeypot field: people never see it, form-filling bots do
        limiter.hit(f"ip:{ip}")
        return await _form(request, error="提交失败。/ Not accepted.", status=400)
    if limiter.blocked(f"ip:{ip}"):
        return await _form(request, error="提交过于频繁，请稍后再试或直接拨打服务电话。/ Too many requests; try later.",
                           status=429)
    f = intake.parse(data)
    if f.errors:
        limiter.hit(f"ip:{ip}")
        return await _form(request, f, status=400)
    phone_key = f"phone:{f.phone}"
    if request.app["intake_phone_limiter"].blocked(phone_key):
        return await _form(request, f, error="该号码今日提交次数已达上限。/ This phone number has reached today's limit.",
                           status=429)
    clock = request.app["clock"]
    try:
        async with request.app["db"].session() as s:
            case = await intake.submit(s, Ctx(clock.now(), request.app["config"].secret_key), f)
            code = case.code
    except CaseError as e:
        limiter.hit(f"ip:{ip}")
        f.errors["unit"] = e.message
        return await _form(request, f, status=400)
    limiter.hit(f"ip:{ip}")
    request.app["intake_phone_limiter"].hit(phone_key)
    return await render(request, "cases/intake_done.html", {"code": code, "wants_video": f.wants_video})


async def unit_card(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    code = request.match_info["code"][:32]
    async with request.app["db"].session() as s:
        unit = (await s.execute(select(Unit).where(Unit.code == code, path_prefix(Unit.path, actor.unit_path)))
                ).scalar_one_or_none()
        if unit is None:
            raise ApiError(404, "not_found", "unknown unit")
        staff = list((await s.execute(select(Staff).where(Staff.unit_id == unit.id, Staff.active.is_(True),
                                                          Staff.role.in_([str(r) for r in ON_CASE]))
                                      .order_by(Staff.id))).scalars())
    url = f"{base_url(request)}/intake?unit={unit.code}"
    return await render(request, "cases/card.html", {"unit": unit, "person": None, "url": url,
                                                     "qr": Markup(qr_svg(url)), "staff": staff})


async def staff_card(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    username = request.match_info["username"][:64]
    async with request.app["db"].session() as s:
        row = (await s.execute(select(Staff, Unit).join(Unit, Unit.id == Staff.unit_id).where(
            Staff.username == username, Staff.active.is_(True), Staff.role.in_([str(r) for r in ON_CASE]),
            path_prefix(Unit.path, actor.unit_path)))).first()
    if row is None:
        raise ApiError(404, "not_found", "unknown staff")
    person, unit = row
    url = f"{base_url(request)}/intake?unit={unit.code}&staff={person.username}"
    return await render(request, "cases/card.html", {"unit": unit, "person": person, "url": url,
                                                     "qr": Markup(qr_svg(url)), "staff": []})


def setup(app: web.Application) -> None:
    app["intake_limiter"] = RateLimiter(limit=PER_IP_PER_HOUR, window_s=3600)
    app["intake_phone_limiter"] = RateLimiter(limit=PER_PHONE_PER_DAY, window_s=86400)
    app.router.add_get("/intake", intake_page, name="intake")
    app.router.add_post("/intake", intake_submit)
    app.router.add_get("/cards/units/{code}", unit_card)
    app.router.add_get("/cards/staff/{username}", staff_card)
