"""HTML rendering: jinja2 templates from web/templates, bilingual text, CSRF and local time.

Templates write text in both languages inline: ``{{ tr("调解", "Mediation") }}``. zh-CN is the default;
``?lang=en`` (remembered in a cookie) switches to English. Times are stored in UTC and shown in
Asia/Shanghai with the ``local`` filter. Messages handed to a page (``ok``, ``error``, ``errors``,
``form_error``, ``message``) are put into the page's language by :func:`server.i18n.localise`, so a
view may pass a domain or API message as it comes ("中文 / English", or English only); any other
message goes through the ``say`` filter: ``{{ job.error|say }}``.

Every page gets in its context: ``actor`` (or None), ``lang``, ``tr``, ``csrf_token`` (put it in every
form as ``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``), ``path``, ``lang_url``
(this page in the other language), ``nav`` (the main navigation, with the active entry marked) and
``tier_label`` / ``role_label`` / ``specialty_label`` (code -> display name in the page's language).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from server.auth import SESSION_COOKIE, current_actor
from server.clock import BEIJING
from server.directory.labels import ROLE_LABELS, SPECIALTY_LABELS, TIER_LABELS, label
from server.http import CSRF_SEED, csrf_token, is_https
from server.i18n import LANG_COOKIE, language_of, localise, localise_context
from server.policy import Actor
from server.security import csrf
from server.services import services

CSRF_FIELD = csrf.CSRF_FIELD
CSRF_COOKIE = csrf.CSRF_COOKIE

# (href, zh, en): the sections of the product. Sections land as their features do; the links are stable.
NAV = [
    ("/", "首页", "Home"),
    ("/sessions", "视频会议", "Sessions"),
    ("/cases", "案件", "Cases"),
    ("/agreements", "调解协议", "Agreements"),
    ("/councils", "议事会", "Councils"),
    ("/dashboard", "驾驶舱", "Dashboard"),
    ("/network", "组织网络", "Network"),
    ("/experts", "专家库", "Experts"),
]


def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(BEIJING).strftime(fmt)


@jinja2.pass_context
def _say(ctx: Any, text: str | None) -> str:
    """``{{ message|say }}``: any other message a page shows, in the page's language (server.i18n)."""
    return localise(text, ctx.get("lang", "zh-CN"))


def environment(app: web.Application) -> jinja2.Environment:
    env = services(app).jinja
    if env is None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(services(app).config.web_dir / "templates")),
            autoescape=jinja2.select_autoescape(["html", "xml", "j2"]),
            enable_async=False,
            # Templates change only with a deploy; skip the stat() per render.
            auto_reload=False,
        )
        env.filters["local"] = local
        env.filters["say"] = _say
        services(app).jinja = env
    return env


def language(request: web.Request) -> str:
    return language_of(request.query, request.cookies)


def _lang_url(request: web.Request, lang: str) -> str:
    query = {k: v for k, v in request.query.items() if k != "lang"}
    query["lang"] = "zh-CN" if lang == "en" else "en"
    return f"{request.path}?{urlencode(query)}"


def _nav(path: str, tr: Any) -> list[dict[str, Any]]:
    def active(href: str) -> bool:
        return path == "/" if href == "/" else path == href or path.startswith(href + "/")

    return [{"href": h, "label": tr(zh, en), "active": active(h)} for h, zh, en in NAV]


def page_context(request: web.Request, actor: Actor | None) -> dict[str, Any]:
    lang = language(request)

    def tr(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    return {
        "request": request,
        "actor": actor,
        "lang": lang,
        "tr": tr,
        "csrf_token": csrf_token(request),
        "path": request.path,
        "lang_url": _lang_url(request, lang),
        "nav": _nav(request.path, tr),
        "tier_label": lambda code: label(TIER_LABELS, code, lang),
        "role_label": lambda code: label(ROLE_LABELS, code, lang),
        "specialty_label": lambda code: label(SPECIALTY_LABELS, code, lang),
    }


async def render(request: web.Request, template: str, context: dict[str, Any] | None = None,
                 status: int = 200) -> web.Response:
    actor = await current_actor(request)
    ctx = page_context(request, actor)
    # Other modules add to every page (the notification bell's count) without render.py knowing them.
    for extra in services(request).page_extras:
        ctx.update(await extra(request, actor))
    ctx.update(context or {})
    localise_context(ctx, ctx["lang"])
    html = environment(request.app).get_template(template).render(ctx)
    resp = web.Response(text=html, content_type="text/html", charset="utf-8", status=status)
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["Cache-Control"] = "no-store"
    if request.get(CSRF_SEED):
        resp.set_cookie(CSRF_COOKIE, request[CSRF_SEED], httponly=True, samesite="Lax", path="/",
                        secure=is_https(request))
    if "lang" in request.query:
        resp.set_cookie(LANG_COOKIE, ctx["lang"], samesite="Lax", path="/", max_age=365 * 86400)
    return resp


async def require_login(request: web.Request) -> Actor:
    """For pages: the actor, or a redirect to the login page."""
    actor = await current_actor(request)
    if actor is None:
        raise web.HTTPFound("/login?" + urlencode({"next": request.path_qs}) if request.path != "/" else "/login")
    return actor


__all__ = ["SESSION_COOKIE", "is_https", "local", "render", "require_login"]


def attachment(body: bytes, content_type: str, filename: str) -> web.Response:
    """A file to download: never cached (exports carry personal data) nor sniffed; the name may be Chinese."""
    return web.Response(body=body, headers={
        "Content-Type": content_type,
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote(filename),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})
