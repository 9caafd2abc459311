"""Session pages: the list, one session (invite, copy link, QR, join), and the join/room page.

The rules live in ``server.sessions.service`` (shared with the JSON API); these handlers parse the form,
check CSRF, call the service and render. The live room itself is the ES modules in ``web/static/js``.

Feature modules add a room panel (minutes, agreement review) without touching this file:

    from server.sessions.http.pages import add_room_module
    add_room_module("/static/js/minutes.js", button=("minutes", "doc", "笔录", "Minutes"))

The module registers its panel with ``registerPanel`` from ``/static/js/panels.js``; the optional button
(id, icon, zh, en) opens it from the control bar. Icons: see the sprite in ``join.html``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from server import publicurl
from server.errors import ApiError
from server.failures import Kind
from server.http import check_csrf, client_ip, csrf_token, http_status, now_of, path_id
from server.pages.render import language, render, require_login
from server.policy import Actor, can_host_session, within
from server.security.ratelimit import RateLimiter
from server.services import services
from server.sessions import kinds, service
from server.sessions.http.keys import CASE_GATE
from server.sessions.service import SessionError

# ---- extension point: room panels -----------------------------------------------------------------


@dataclass(frozen=True)
class RoomButton:
    id: str
    icon: str
    zh: str
    en: str


ROOM_MODULES: list[str] = []
ROOM_BUTTONS: list[RoomButton] = []


def add_room_module(src: str, button: tuple[str, str, str, str] | None = None) -> None:
    """Load an extra ES module on the room page; optionally add a control-bar button opening its panel."""
    if src not in ROOM_MODULES:
        ROOM_MODULES.append(src)
    if button is not None and all(b.id != button[0] for b in ROOM_BUTTONS):
        ROOM_BUTTONS.append(RoomButton(*button))


# ---- labels ---------------------------------------------------------------------------------------

ROOM_ROLE_LABELS: dict[str, tuple[str, str]] = {
    "host": ("主持人", "Host"),
    "mediator": ("调解员", "Mediator"),
    "expert": ("专家", "Expert"),
    "party": ("当事人", "Party"),
    "agent": ("代理人", "Agent"),
    "interpreter": ("翻译", "Interpreter"),
    "observer": ("列席人员", "Observer"),
    "recorder": ("录制", "Recorder"),
}
STATE_LABELS: dict[str, tuple[str, str]] = {
    "scheduled": ("未开始", "Scheduled"),
    "live": ("进行中", "Live"),
    "ended": ("已结束", "Ended"),
    "cancelled": ("已取消", "Cancelled"),
    "interrupted": ("已中断", "Interrupted"),
}
CHECK_LABELS: dict[str, tuple[str, str]] = {
    "none": ("无需核验", "None"),
    "id_last4": ("身份证后4位", "Last 4 of ID"),
    "code": ("6位核验码", "6-digit code"),
}
# Why a join link does not work, in words for the person holding it.
JOIN_ERRORS: dict[str, tuple[str, str]] = {
    "token_expired": ("邀请链接已过期，请联系调解员重新发送。", "This invitation has expired. Ask the mediator for a new one."),
    "token_invalid": ("邀请链接无效，请检查链接是否完整。", "This invitation link is not valid. Check that it is complete."),
    "token_malformed": ("邀请链接无效，请检查链接是否完整。", "This invitation link is not valid. Check that it is complete."),
    "token_revoked": ("此邀请已被撤回。", "This invitation was withdrawn."),
    "wrong_session": ("此邀请对应的会议不存在。", "The meeting of this invitation does not exist."),
    "session_cancelled": ("此会议已取消。", "This meeting was cancelled."),
    "session_ended": ("此会议已结束。", "This meeting has ended."),
    "forbidden": ("此邀请不能用于本会议。", "This invitation cannot be used for this meeting."),
    "rate_limited": ("访问过于频繁，请稍后再试。", "Too many requests; try again shortly."),
}
MAX_TITLE = 200
MAX_NAME = 100


def _label(table: dict[str, tuple[str, str]], code: str, lang: str) -> str:
    pair = table.get(code)
    return code if pair is None else pair[1] if lang == "en" else pair[0]


def _labels(request: web.Request, kind: str | None = None) -> dict[str, Any]:
    lang = language(request)
    rules = kinds.RULES.get(kind or "")

    def role_label(c: str) -> str:  # the kind's own name for a role (a council's 召集人), else the general one
        own = kinds.role_label(rules, c, lang) if rules is not None else None
        return own if own is not None else _label(ROOM_ROLE_LABELS, c, lang)

    return {
        "room_role_label": role_label,
        "state_label": lambda c: _label(STATE_LABELS, c, lang),
        "check_label": lambda c: _label(CHECK_LABELS, c, lang),
        "kind_label": lambda c: (kinds.RULES[c].label_en if lang == "en" else kinds.RULES[c].label_zh)
        if c in kinds.RULES else c,
    }


def _api_error(e: SessionError) -> ApiError:
    return ApiError(http_status(e), e.code, e.message)


def _session_id(request: web.Request) -> int:
    return path_id(request, "id", "no such session")


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _share(request: web.Request, inv: dict[str, Any]) -> dict[str, Any]:
    """An invitation as the page shows it: absolute link and local expiry."""
    if inv.get("url"):
        inv["abs_url"] = absolute(request, inv["url"])
    inv["expires"] = _parse_iso(inv.get("expires_at"))
    return inv


def absolute(request: web.Request, path: str) -> str:
    """The link to show on the page: CONCORD_PUBLIC_URL + path, or the path itself when it is unset (the
    page's script completes it with the browser's own address). Never built from the request's Host."""
    return publicurl.for_page(services(request), path)


async def _hostable_units(request: web.Request, actor: Actor) -> list[dict[str, Any]]:
    """Units in the actor's subtree where they may host at least one kind of session."""
    cache = services(request).units_cache
    await cache.all(services(request).db)
    out = []
    for code, row in cache.by_code.items():
        path = row["path"]
        if not within(actor, path):
            continue
        if any(can_host_session(actor, path, k) for k in kinds.KINDS):
            out.append({"code": code, "name": row["json"]["name"], "tier": row["json"]["tier"], "path": path})
    out.sort(key=lambda u: (u["path"].count("/"), u["path"]))
    return out[:500]


# ---- the list ---------------------------------------------------------------------------------------


async def sessions_page(request: web.Request, form_error: str | None = None, form: dict | None = None,
                        status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    state = request.query.get("state", "")
    state = state if state in service.JOINABLE_STATES + ("ended", "cancelled") else ""
    kind = request.query.get("kind", "")
    kind = kind if kind in kinds.KINDS else ""
    async with services(request).db.session() as s:
        rows = await service.list_sessions(s, actor, state=state or None, kind=kind or None, limit=200,
                                           now=now_of(request))
        case_codes = await request.app[CASE_GATE].codes_by_id(s, {x.case_id for x, _ in rows if x.case_id})
    units = await _hostable_units(request, actor)
    return await render(request, "sessions/list.html", {
        **_labels(request),
        "sessions": [{"s": x, "unit": u, "case_code": case_codes.get(x.case_id or 0)} for x, u in rows],
        "filters": {"state": state, "kind": kind},
        "kinds": kinds.KINDS,
        "states": ("live", "scheduled", "ended", "cancelled"),
        "units": units,
        "can_create": bool(units),
        "form_error": form_error,
        "form": form or {"unit": actor.unit_code, "kind": "mediation"},
        "case_choices": await _case_choices(request, actor),
    }, status=status)


async def _case_choices(request: web.Request, actor: Actor) -> list[tuple[str, str]]:
    async with services(request).db.read() as s:
        return await request.app[CASE_GATE].pick_list(s, actor, now_of(request))


async def create_session(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    lang = language(request)
    zh = lang != "en"
    values = {k: str(form.get(k, ""))[:300] for k in ("kind", "title", "unit", "scheduled_at", "case_id")}
    title = values["title"].strip()
    if not title or len(title) > MAX_TITLE:
        return await sessions_page(request, "请填写会议名称（200字以内）。" if zh else "Enter a title (up to 200 characters).",
                                   values, 400)
    case_id = None
    if values["case_id"].strip():  # the case code as shown everywhere (340321-2026-000002)
        async with services(request).db.read() as s:
            case_id = await request.app[CASE_GATE].case_id_for(s, actor, values["case_id"], now_of(request))
        if case_id is None:
            return await sessions_page(request, "没有这个案件编号，或您无权查看该案件。" if zh else
                                       "No case with that code that you may see.", values, 400)
    try:
        when = service.parse_time(values["scheduled_at"]) if values["scheduled_at"].strip() else None
        async with services(request).db.session() as s:
            sess, _unit = await service.create_session(s, actor, now=now_of(request), kind=values["kind"], title=title,
                                                       unit_code=values["unit"], case_id=case_id,
                                                       scheduled_at=when, cases=request.app[CASE_GATE])
            new_id = sess.id
    except SessionError as e:
        msg = {
            "forbidden": "您的角色不能在该单位主持此类会议。" if zh else "Your role may not host this kind of session there.",
            "not_found": "请选择您辖区内的单位。" if zh else "Choose a unit in your area.",
        }.get(e.code, e.message)
        return await sessions_page(request, msg, values, http_status(e))
    raise web.HTTPSeeOther(f"/sessions/{new_id}")


# ---- one session ------------------------------------------------------------------------------------


async def session_page(request: web.Request, *, new_invitation: dict | None = None, form_error: str | None = None,
                       form: dict | None = None, status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    secret = services(request).config.secret_key
    async with services(request).db.session() as s:
        try:
            sess, unit = await service.load(s, actor, _session_id(request), now=now_of(request))
        except SessionError as e:
            raise _api_error(e) from None
        manage = await service.can_manage(s, actor, sess, unit, now_of(request))
        my_role = await service.staff_join_role(s, actor, sess, unit)
        case_code = (await request.app[CASE_GATE].codes_by_id(s, {sess.case_id})).get(sess.case_id) if sess.case_id else None
        invitations = []
        if manage:
            for inv in await service.list_invitations(s, sess.id):
                invitations.append(_share(request, service.invitation_json(secret, inv)))
    hub = services(request).room_hub
    room = hub.snapshot(sess.id) if hub is not None else None
    rules = kinds.rules(sess.kind)
    if new_invitation:
        _share(request, new_invitation)
    return await render(request, "sessions/detail.html", {
        **_labels(request, sess.kind),
        "session": sess, "unit": unit, "rules": rules, "case_code": case_code,
        "can_manage": manage, "my_role": my_role,
        "joinable": sess.state in service.JOINABLE_STATES,
        "invitations": invitations,
        "invite_roles": [r for r in kinds.PERSON_ROLES if r in rules.roles],
        "new_invitation": new_invitation,
        "room": room,
        "form_error": form_error,
        "form": form or {"role": rules.default_invite_role, "check": "none"},
    }, status=status)


async def invite(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    zh = language(request) != "en"
    values = {k: str(form.get(k, ""))[:200] for k in ("role", "name", "username", "check", "id_last4")}
    name = values["name"].strip()
    username = values["username"].strip() or None
    method = values["check"] if values["check"] in service.CHECK_METHODS else "none"
    if not name and not username:
        return await session_page(request, form_error="请填写被邀请人姓名。" if zh else "Enter the invitee's name.",
                                  form=values, status=400)
    if len(name) > MAX_NAME:
        return await session_page(request, form_error="姓名过长。" if zh else "The name is too long.",
                                  form=values, status=400)
    secret = services(request).config.secret_key
    try:
        async with services(request).db.session() as s:
            sess, unit = await service.load(s, actor, _session_id(request), now=now_of(request))
            inv, code = await service.create_invitation(
                s, secret, actor, sess, unit, role=values["role"] or kinds.rules(sess.kind).default_invite_role,
                name=name or None, username=username, check_method=method,
                check_value=values["id_last4"].strip() or None, ttl_s=None,
                at=now_of(request))
            out = service.invitation_json(secret, inv)
    except SessionError as e:
        if e.kind is Kind.NOT_FOUND and e.code == "not_found" and "session" in e.message:
            raise _api_error(e) from None
        msg = {
            "forbidden": "只有本会议的主持人可以邀请。" if zh else "Only the session's hosts may invite.",
            "session_closed": "会议已结束或已取消，不能再邀请。" if zh else "The session is over; no more invitations.",
        }.get(e.code, e.message)
        if "check.value" in e.message:
            msg = "身份证后4位格式不对（数字，末位可为 X）。" if zh else "The last 4 of the ID must be digits (last may be X)."
        return await session_page(request, form_error=msg, form=values, status=http_status(e))
    if code is not None:
        out["code"] = code
    # Rendered, not redirected: the 6-digit code is shown this once (only its hash is stored).
    return await session_page(request, new_invitation=out, status=201)


async def revoke(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    await check_csrf(request)
    inv_id = path_id(request, "inv", "no such invitation")
    async with services(request).db.session() as s:
        try:
            sess, unit = await service.load(s, actor, _session_id(request), now=now_of(request))
            await service.revoke_invitation(s, actor, sess, unit, inv_id, now_of(request))
        except SessionError as e:
            raise _api_error(e) from None
    raise web.HTTPSeeOther(f"/sessions/{sess.id}#invitations")


async def cancel(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    await check_csrf(request)
    async with services(request).db.session() as s:
        try:
            sess, _unit = await service.cancel(s, actor, _session_id(request), now_of(request))
        except SessionError as e:
            raise _api_error(e) from None
    hub = services(request).room_hub
    if hub is not None:
        await hub.end_session(service.room_meta(sess), "cancelled")
    raise web.HTTPSeeOther(f"/sessions/{sess.id}")


async def join_as_staff(request: web.Request) -> web.StreamResponse:
    """The session page's "join" button: a short-lived staff join token, then the join page."""
    actor = await require_login(request)
    await check_csrf(request)
    async with services(request).db.session() as s:
        try:
            sess, unit = await service.load(s, actor, _session_id(request), now=now_of(request))
        except SessionError as e:
            raise _api_error(e) from None
        if sess.state not in service.JOINABLE_STATES:
            raise ApiError(409, "session_closed", f"the session is {sess.state}")
        role = await service.staff_join_role(s, actor, sess, unit)
    token = service.staff_join_token(services(request).config.secret_key, actor, sess, role)
    raise web.HTTPSeeOther(service.join_url(token) + ("?" + urlencode({"lang": "en"}) if language(request) == "en" else ""))


async def invitation_qr(request: web.Request) -> web.StreamResponse:
    """The invitation link as a QR code (SVG), for a party to scan with a phone."""
    import qrcode  # heavy: loaded on first use
    import qrcode.image.svg  # heavy: loaded on first use

    actor = await require_login(request)
    inv_id = path_id(request, "inv", "no such invitation")
    secret = services(request).config.secret_key
    async with services(request).db.session() as s:
        try:
            sess, unit = await service.load(s, actor, _session_id(request), now=now_of(request))
        except SessionError as e:
            raise _api_error(e) from None
        if not await service.can_manage(s, actor, sess, unit, now_of(request)):
            raise ApiError(403, "forbidden", "only the session's hosts see its invitations")
        inv = next((i for i in await service.list_invitations(s, sess.id) if i.id == inv_id), None)
    if inv is None or inv.revoked:
        raise ApiError(404, "not_found", "no such invitation")
    url = publicurl.absolute(services(request), service.join_url(service.invitation_token(secret, inv)))
    if url is None:  # no CONCORD_PUBLIC_URL: the drawing says so instead of encoding a guessed host
        body = publicurl.placeholder_svg(lang=language(request)).encode()
    else:
        img = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
        buf = io.BytesIO()
        img.save(buf)
        body = buf.getvalue()
    resp = web.Response(body=body, content_type="image/svg+xml")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


# ---- the join page and room -----------------------------------------------------------------------


async def join_page(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    lang = language(request)
    limiter: RateLimiter = services(request).join_page_limiter
    if limiter.hit(f"ip:{client_ip(request)}"):
        return await _join_error(request, "rate_limited", 429)
    try:
        info = await service.describe_join(services(request).db, services(request).config.secret_key, token,
                                           now_of(request))
    except SessionError as e:
        return await _join_error(request, e.code, http_status(e))
    sess = info["session"]
    config = {
        "token": token,
        "session_id": sess["id"],
        "title": sess["title"],
        "kind": sess["kind"],
        "role": info["role"],
        "name": info["name"],
        "check": info["check"],
        "lobby": info.get("lobby", False),
        "lang": lang,
    }
    labels = _labels(request, sess["kind"])
    # describe_join speaks JSON (ISO strings); the template's ``local`` filter takes datetimes.
    page_session = {**sess, "scheduled_at": _parse_iso(sess.get("scheduled_at"))}
    # Panels that call the JSON API with the staff cookie need the CSRF token (double submit).
    config["csrf_token"] = csrf_token(request)
    resp = await render(request, "join.html", {
        **labels,
        "session": page_session,
        "invite": {"name": info["name"], "role": info["role"], "check": info["check"]},
        "kind_label": labels["kind_label"](sess["kind"]),
        "role_label": labels["room_role_label"](info["role"]),
        "config": config,
        # add_room_module() entries, plus any a feature listed in services(app).room_modules.
        "room_modules": list(dict.fromkeys(ROOM_MODULES + services(request).room_modules)),
        "room_buttons": ROOM_BUTTONS,
    })
    # The token is in the URL: never leak it to other sites, and let camera/microphone be used here only.
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Permissions-Policy"] = "camera=(self), microphone=(self), display-capture=(self)"
    return resp


async def _join_error(request: web.Request, code: str, status: int) -> web.StreamResponse:
    lang = language(request)
    message = _label(JOIN_ERRORS, code, lang) if code in JOIN_ERRORS else (
        "无法打开此邀请。" if lang != "en" else "This invitation cannot be opened.")
    resp = await render(request, "sessions/join_error.html", {"message": message, "code": code}, status=status)
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def setup(app: web.Application) -> None:
    services(app).join_page_limiter = RateLimiter(limit=120, window_s=60)
    r = app.router
    r.add_get("/sessions", sessions_page)
    r.add_post("/sessions", create_session)
    r.add_get("/sessions/{id}", session_page)
    r.add_post("/sessions/{id}/invitations", invite)
    r.add_post("/sessions/{id}/invitations/{inv}/revoke", revoke)
    r.add_get("/sessions/{id}/invitations/{inv}/qr.svg", invitation_qr)
    r.add_post("/sessions/{id}/cancel", cancel)
    r.add_post("/sessions/{id}/join", join_as_staff)
    r.add_get("/join/{token}", join_page)
