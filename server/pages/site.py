"""The web shell: login and logout, the home page and the HTML error page."""

from __future__ import annotations

import secrets

from aiohttp import web

from server import access
from server.auth import SESSION_COOKIE, SESSION_TTL, current_actor, issue_session_cookie, sign_out
from server.directory.http.signin import authenticate
from server.directory.models import Unit
from server.directory.queries import experts_for, home_counts
from server.errors import ApiError
from server.http import check_csrf, is_https
from server.pages.render import language, render, require_login
from server.services import services

ERROR_HEADINGS = {
    400: ("请求有误", "Bad request"),
    401: ("请先登录", "Please log in"),
    403: ("没有权限", "Not allowed"),
    404: ("页面不存在", "Page not found"),
    405: ("不支持的请求方式", "Method not allowed"),
    413: ("内容过大", "Too large"),
    429: ("操作过于频繁", "Too many requests"),
    500: ("服务器内部错误", "Internal server error"),
}


def safe_next(value: object) -> str:
    """Only same-site paths: never an absolute URL, ``//host`` or a backslash trick (open redirect)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if len(value) > 2000 or any(ord(c) < 32 for c in value) or "\\" in value:
        return "/"
    return value


async def login_page(request: web.Request) -> web.StreamResponse:
    next_url = safe_next(request.query.get("next", "/"))
    if await current_actor(request) is not None:
        raise web.HTTPFound(next_url)
    return await render(request, "login.html", {"next": next_url, "username": "", "error": None})


async def login_submit(request: web.Request) -> web.StreamResponse:
    zh = language(request) != "en"
    try:
        form = await check_csrf(request)
    except ApiError:
        return await render(request, "login.html", {
            "next": "/", "username": "",
            "error": "页面已过期，请重新登录。" if zh else "The page expired; please log in again.",
        }, status=403)
    username = form.get("username")
    password = form.get("password")
    next_url = safe_next(form.get("next", "/"))
    shown = username if isinstance(username, str) else ""
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password \
            or len(username) > 64 or len(password) > 256:
        return await render(request, "login.html", {
            "next": next_url, "username": shown[:64],
            "error": "请输入用户名和密码。" if zh else "Enter your username and password.",
        }, status=400)
    try:
        staff, _unit = await authenticate(request, username, password)
    except ApiError as e:
        if e.status == 429:
            msg = "登录失败次数过多，请稍后再试。" if zh else "Too many failed logins; try again later."
        else:
            msg = "用户名或密码错误。" if zh else "Wrong username or password."
        return await render(request, "login.html", {"next": next_url, "username": username, "error": msg},
                            status=e.status)
    cookie = issue_session_cookie(services(request).config.secret_key, staff.id, secrets.token_urlsafe(8))
    resp = web.HTTPFound(next_url)
    resp.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_TTL, httponly=True, samesite="Lax", path="/",
                    secure=is_https(request))
    raise resp


async def logout(request: web.Request) -> web.StreamResponse:
    await check_csrf(request)
    actor = await current_actor(request)
    if actor is not None:
        await sign_out(request.app, actor.id, "page")  # a copied cookie stops working too, on every node
    resp = web.HTTPFound("/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp


async def home(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    async with services(request).db.read() as s:
        unit, units, staff = await home_counts(s, actor, access.scope_units(actor, Unit.path))
    # The same query as the expert directory, so both pages count the same experts.
    experts = len(await experts_for(services(request).db, actor))
    return await render(request, "home.html", {
        "unit": unit, "counts": {"units": units, "staff": staff, "experts": experts},
    })


async def render_error(request: web.Request, status: int, message: str) -> web.Response:
    """The HTML error page for browsers (API callers get JSON from server.errors)."""
    zh, en = ERROR_HEADINGS.get(status, ("出错了", "Something went wrong"))
    heading = en if language(request) == "en" else zh
    # The standard reason phrase only repeats the heading; show real explanations only.
    shown = "" if status >= 500 or message.lower() in {en.lower(), web.HTTPException.__name__.lower()} \
        or message in {"Not Found", "Method Not Allowed", "Forbidden", "Unauthorized", "Bad Request"} else message
    return await render(request, "error.html", {"status": status, "heading": heading, "message": shown},
                        status=status)


def setup(app: web.Application) -> None:
    services(app).render_error = render_error
    app.router.add_get("/", home, name="home")
    app.router.add_get("/login", login_page, name="login")
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout, name="logout")
