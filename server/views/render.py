"""HTML rendering: jinja2 templates from web/templates, bilingual text, CSRF and local time.

Templates write text in both languages inline: ``{{ tr("调解", "Mediation") }}``. zh-CN is the default;
``?lang=en`` (remembered in a cookie) switches to English. Times are stored in UTC and shown in
Asia/Shanghai with the ``local`` filter.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from server.auth import SESSION_COOKIE, current_actor
from server.errors import ApiError

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LANG_COOKIE = "concord_lang"
CSRF_FIELD = "csrf_token"
CSRF_COOKIE = "concord_csrf"


def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(LOCAL_TZ).strftime(fmt)


def environment(app: web.Application) -> jinja2.Environment:
    env = app.get("jinja")
    if env is None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(app["config"].web_dir / "templates")),
            autoescape=jinja2.select_autoescape(["html", "xml", "j2"]),
            enable_async=False,
        )
        env.filters["local"] = local
        app["jinja"] = env
    return env


def language(request: web.Request) -> str:
    lang = request.query.get("lang") or request.cookies.get(LANG_COOKIE) or "zh-CN"
    return "en" if lang.startswith("en") else "zh-CN"


def csrf_token(request: web.Request) -> str:
    """Double-submit token bound to a per-browser random cookie (set on first render)."""
    seed = request.cookies.get(CSRF_COOKIE) or request.get("csrf_seed")
    if not seed:
        seed = request["csrf_seed"] = secrets.token_urlsafe(24)
    key = request.app["config"].secret_key
    return hmac.new(key, b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()


async def check_csrf(request: web.Request) -> dict[str, Any]:
    """Read a form POST and refuse it (403) unless its CSRF token matches this browser's cookie."""
    form = await request.post()
    sent = form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token", "")
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed or not isinstance(sent, str):
        raise ApiError(403, "csrf", "missing CSRF token; reload the page and try again")
    key = request.app["config"].secret_key
    good = hmac.new(key, b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sent, good):
        raise ApiError(403, "csrf", "invalid CSRF token; reload the page and try again")
    return dict(form)


async def render(request: web.Request, template: str, context: dict[str, Any] | None = None,
                 status: int = 200) -> web.Response:
    lang = language(request)
    actor = await current_actor(request)

    def tr(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    ctx = {
        "request": request,
        "actor": actor,
        "lang": lang,
        "tr": tr,
        "csrf_token": csrf_token(request),
        "path": request.path,
        **(context or {}),
    }
    html = environment(request.app).get_template(template).render(ctx)
    resp = web.Response(text=html, content_type="text/html", charset="utf-8", status=status)
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    if request.get("csrf_seed"):
        resp.set_cookie(CSRF_COOKIE, request["csrf_seed"], httponly=True, samesite="Lax", path="/")
    if "lang" in request.query:
        resp.set_cookie(LANG_COOKIE, lang, samesite="Lax", path="/", max_age=365 * 86400)
    return resp


async def require_login(request: web.Request):  # type: ignore[no-untyped-def]
    """For pages: the actor, or a redirect to the login page."""
    actor = await current_actor(request)
    if actor is None:
        raise web.HTTPFound(f"/login?next={request.path_qs}" if request.path != "/" else "/login")
    return actor


__all__ = ["SESSION_COOKIE", "check_csrf", "local", "render", "require_login"]
