"""The public intake page (no login, CSRF, rate-limited) and printable contact cards with a QR code."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup

from server import access, publicurl
from server.cases import documents
from server.cases.errors import CaseError
from server.cases.http.pages import _page
from server.cases.models import Case
from server.cases.service import Ctx
from server.directory.models import Unit
from server.errors import ApiError
from server.http import check_csrf, client_ip
from server.intake import public_status
from server.intake import service as intake
from server.pages.render import language, local, render, require_login
from server.security import tokens
from server.security.attempts import attempts
from server.security.ratelimit import RateLimiter
from server.services import services

PER_IP_PER_HOUR = 10  # a village's shared connection may carry several families
PER_PHONE_PER_DAY = 3
# Status lookups: wrong pairs per address and per reference (guessing 4 digits must stay hopeless).
STATUS_FAILS_PER_IP = 10
STATUS_FAILS_PER_REFERENCE = 5
STATUS_WINDOW_S = 3600
PHOTO_TTL_S = 1800
PHOTO_PURPOSE = "status-photo"


async def _form(request: web.Request, form: intake.IntakeForm | None = None, error: str | None = None,
                status: int = 200) -> web.Response:
    async with services(request).db.session() as s:
        units = await intake.intake_units(s)
        staff = None
        hint = request.query.get("staff") or (form.staff if form else None)
        if hint:
            staff = await intake.handler_by_username(s, hint[:64])
    selected = (form.unit if form else None) or request.query.get("unit", "")[:32]
    if not selected and staff:
        selected = staff[1].code
    return await _page(request, "cases/intake.html", {
        "units": units, "selected": selected, "form": form,
        "errors": (form.errors_in(language(request)) if form else {}),
        "error": error, "contact": staff, "choices": intake.CHOICES,
    }, status=status)


async def intake_page(request: web.Request) -> web.StreamResponse:
    return await _form(request)


async def intake_submit(request: web.Request) -> web.StreamResponse:
    en = language(request) == "en"
    try:
        data = await check_csrf(request)
    except ApiError:
        return await _form(request, error="The page expired; reload and try again." if en
                           else "页面已过期，请刷新后重新提交。", status=403)
    limiter: RateLimiter = services(request).intake_limiter
    ip = client_ip(request)
    if data.get("website"):  # the honeypot field: people never see it, form-filling bots do
        limiter.hit(f"ip:{ip}")
        return await _form(request, error="Not accepted." if en else "提交失败。", status=400)
    if limiter.blocked(f"ip:{ip}"):
        return await _form(request, error="Too many requests; try later, or call the service line." if en
                           else "提交过于频繁，请稍后再试或直接拨打服务电话。", status=429)
    f = intake.parse(data)
    if f.errors:
        limiter.hit(f"ip:{ip}")
        return await _form(request, f, status=400)
    phone_key = f"phone:{f.phone}"
    if services(request).intake_phone_limiter.blocked(phone_key):
        return await _form(request, f, error="This phone number has reached today's limit." if en
                           else "该号码今日提交次数已达上限。", status=429)
    clock = services(request).clock
    try:
        async with services(request).db.session() as s:
            case = await intake.submit(s, Ctx(clock.now(), services(request).config.secret_key), f)
            code = case.code
    except CaseError as e:
        limiter.hit(f"ip:{ip}")
        f.errors["unit"] = (e.localized("zh-CN"), e.localized("en"))
        return await _form(request, f, status=400)
    limiter.hit(f"ip:{ip}")
    services(request).intake_phone_limiter.hit(phone_key)
    return await render(request, "cases/intake_done.html", {"code": code, "wants_video": f.wants_video})


async def unit_card(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    code = request.match_info["code"][:32]
    async with services(request).db.session() as s:
        unit = await intake.unit_in_scope(s, code, access.scope_units(actor, Unit.path))
        if unit is None:
            raise ApiError(404, "not_found", "unknown unit")
        staff = await intake.handlers_at(s, unit.id)
    return await render(request, "cases/card.html", _card_links(request, f"/intake?unit={unit.code}")
                        | {"unit": unit, "person": None, "staff": staff})


async def staff_card(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    username = request.match_info["username"][:64]
    async with services(request).db.session() as s:
        row = await intake.handler_by_username(s, username, access.scope_units(actor, Unit.path))
    if row is None:
        raise ApiError(404, "not_found", "unknown staff")
    person, unit = row
    return await render(request, "cases/card.html",
                        _card_links(request, f"/intake?unit={unit.code}&staff={person.username}")
                        | {"unit": unit, "person": person, "staff": []})


def _card_links(request: web.Request, path: str) -> dict[str, Any]:
    """A printed contact card's QR code and links: from CONCORD_PUBLIC_URL only (server/publicurl.py);
    unset, the card says 未配置公开地址 and the on-screen link stays relative."""
    svc, lang = services(request), language(request)
    return {"url": publicurl.for_page(svc, path), "url_text": publicurl.for_document(svc, path, lang),
            "qr": Markup(publicurl.qr_or_placeholder(svc, path, lang=lang)),
            "status_url": publicurl.for_document(svc, "/status", lang)}


# ---- the resident's status page ------------------------------------------------------------------------

async def _status_form(request: web.Request, *, reference: str = "", error: str | None = None,
                       result: dict | None = None, status: int = 200) -> web.Response:
    return await render(request, "cases/status.html", {"reference": reference, "error": error,
                                                       "result": result}, status=status)


async def status_page(request: web.Request) -> web.StreamResponse:
    ref = public_status.normalise_reference(request.query.get("ref", ""))
    return await _status_form(request, reference=ref if public_status.codes.valid(ref) else "")


def _result(request: web.Request, st: public_status.PublicStatus) -> dict:
    zh, en = public_status.STAGES[st.stage]
    photo = None
    if st.closing_photo is not None:
        token = tokens.sign(services(request).config.secret_key, PHOTO_PURPOSE,
                            {"d": st.closing_photo.document_id, "c": st.closing_photo.case_id}, PHOTO_TTL_S)
        photo = {"url": f"/status/photo/{token}", "is_image": st.closing_photo.content_type.startswith("image/"),
                 "filename": st.closing_photo.filename}
    return {"code": st.code, "stage": st.stage, "stage_label": en if language(request) == "en" else zh,
            "registered": local(st.registered_at), "accepted": local(st.accepted_at),
            "closed": local(st.closed_at), "updated": local(st.updated_at), "unit": st.unit_name,
            "note": st.closing_note, "photo": photo}


async def status_lookup(request: web.Request) -> web.StreamResponse:
    en = language(request) == "en"
    try:
        form = await check_csrf(request)
    except ApiError:
        return await _status_form(request, error="The page expired; reload and try again." if en
                                  else "页面已过期，请刷新后重新查询。", status=403)
    raw = form.get("reference")
    ref = public_status.normalise_reference(raw if isinstance(raw, str) else "")
    last4 = str(form.get("last4") or "").strip()[:8]
    if not ref or not public_status.LAST4.match(last4):
        return await _status_form(request, reference=ref[:32], status=400, error=(
            "Enter the reference number and the last 4 digits of your phone." if en
            else "请填写受理编号和手机号后4位。"))
    by_ip, by_ref = services(request).status_ip_attempts, services(request).status_ref_attempts
    ip_key, ref_key = f"ip:{client_ip(request)}", f"ref:{ref}"
    # Checked before the lookup: while blocked, even the right pair gets this answer.
    if await by_ip.blocked(ip_key) or await by_ref.blocked(ref_key):
        return await _status_form(request, reference=ref[:32], status=429, error=(
            "Too many attempts; try again in an hour, or call your mediation centre." if en
            else "查询次数过多，请一小时后再试，或致电调解中心。"))
    async with services(request).db.read() as s:
        st = await public_status.lookup(s, ref, last4)
    if st is None:
        await by_ip.fail(ip_key)
        await by_ref.fail(ref_key)
        return await _status_form(request, reference=ref[:32], status=404, error=(
            "No request matches this reference number and phone number. Check both and try again." if en
            else "没有找到与该受理编号和手机号相符的求助，请核对后重试。"))
    return await _status_form(request, reference=ref, result=_result(request, st))


async def status_photo(request: web.Request) -> web.StreamResponse:
    """The closing photo, reached only through a signed link from a successful lookup."""
    try:
        body = tokens.verify(services(request).config.secret_key, PHOTO_PURPOSE, request.match_info["token"])
        doc_id, case_id = int(body["d"]), int(body["c"])
    except (tokens.TokenError, KeyError, TypeError, ValueError) as e:
        raise ApiError(404, "not_found", "链接已失效，请重新查询。" if language(request) != "en"
                       else "The link has expired; look the request up again.") from e
    data_dir = services(request).config.data_dir
    async with services(request).db.read() as s:
        case = await s.get(Case, case_id)
        try:
            if case is None or case.status not in public_status.SHOWN_CLOSED:
                raise CaseError("no such document", "not_found")
            doc, path = await documents.get_document(s, case, doc_id, data_dir)
        except CaseError as e:
            raise ApiError(404, "not_found", "没有这个文件。" if language(request) != "en" else "No such file.") from e
    if doc.kind != public_status.CLOSING_KIND:
        raise ApiError(404, "not_found", "没有这个文件。" if language(request) != "en" else "No such file.")
    return web.FileResponse(path, headers={"Content-Type": doc.content_type, "Cache-Control": "private, no-store",
                                           "X-Content-Type-Options": "nosniff",
                                           "Content-Disposition": "inline"})


def setup(app: web.Application) -> None:
    services(app).status_ip_attempts = attempts(services(app), "status-ip", STATUS_FAILS_PER_IP, STATUS_WINDOW_S)
    services(app).status_ref_attempts = attempts(services(app), "status-ref", STATUS_FAILS_PER_REFERENCE, STATUS_WINDOW_S)
    app.router.add_get("/status", status_page, name="status")
    app.router.add_post("/status", status_lookup)
    app.router.add_get("/status/photo/{token}", status_photo)
    services(app).intake_limiter = RateLimiter(limit=PER_IP_PER_HOUR, window_s=3600)
    services(app).intake_phone_limiter = RateLimiter(limit=PER_PHONE_PER_DAY, window_s=86400)
    app.router.add_get("/intake", intake_page, name="intake")
    app.router.add_post("/intake", intake_submit)
    app.router.add_get("/cards/units/{code}", unit_card)
    app.router.add_get("/cards/staff/{username}", staff_card)
