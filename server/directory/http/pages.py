"""Pages of the four-tier network: the network browser, a unit's page and the expert directory."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.directory.http.staff import ROLES, SPECIALTIES, TIERS, create_staff, parse_new_staff, visible_unit
from server.directory.queries import experts_for, staff_at, staff_counts, unit_by_id
from server.directory.tree import build_tree
from server.errors import ApiError
from server.http import check_csrf
from server.pages.render import render, require_login
from server.policy import can_manage_staff, can_view_unit
from server.services import services


async def _tree(request: web.Request, root_path: str):  # type: ignore[no-untyped-def]
    cache = services(request).units_cache
    await cache.all(services(request).db)
    async with services(request).db.read() as s:
        by_id = await staff_counts(s)
    code_of = {row["id"]: code for code, row in cache.by_code.items()}
    by_code = {code_of[uid]: n for uid, n in by_id.items() if uid in code_of}
    return build_tree(cache.tree_rows, by_code, root_path)


async def network(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    root = await _tree(request, actor.unit_path)
    if root is None:  # the actor's unit vanished between login and now
        raise web.HTTPNotFound()
    expand = request.query.get("expand") == "all"
    return await render(request, "network.html", {"root": root, "expand_all": expand})


def _safe_filters(request: web.Request) -> dict[str, str]:
    """Page filters: unknown values are dropped (the page shows everything) rather than erroring."""
    q = request.query
    return {
        "specialty": q.get("specialty", "") if q.get("specialty") in SPECIALTIES else "",
        "tier": q.get("tier", "") if q.get("tier") in TIERS else "",
        "q": (q.get("q") or "")[:50],
    }


async def unit_page(request: web.Request, form_error: str | None = None, form: dict | None = None,
                    status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    u = await visible_unit(request, actor, request.match_info["code"])
    root = await _tree(request, u["path"])
    assert root is not None
    cache = services(request).units_cache
    # Breadcrumbs stop at the actor's own unit: what lies above is not theirs to browse.
    crumbs: list[dict[str, Any]] = []
    parent = u["json"]["parent"]
    while parent and (p := cache.by_code.get(parent)) and can_view_unit(actor, p["path"]):
        crumbs.insert(0, p["json"])
        parent = p["json"]["parent"]
    async with services(request).db.read() as s:
        unit = await unit_by_id(s, u["id"])
        staff = await staff_at(s, u["id"])
    return await render(request, "unit.html", {
        "unit": unit, "node": root, "crumbs": crumbs, "staff": staff,
        "can_manage": can_manage_staff(actor, u["path"]),
        "roles": ROLES, "specialties": SPECIALTIES,
        "created": request.query.get("created", "")[:64],
        "form_error": form_error, "form": form or {},
    }, status=status)


async def unit_add_staff(request: web.Request) -> web.StreamResponse:
    """The admin's form on the unit page; same validation and policy as POST /api/staff."""
    actor = await require_login(request)
    form = await check_csrf(request)
    code = request.match_info["code"]
    await visible_unit(request, actor, code)
    body: dict[str, Any] = {
        "username": form.get("username", ""), "name": form.get("name", ""), "role": form.get("role", ""),
        "unit": code, "password": form.get("password", ""),
        "specialties": (await request.post()).getall("specialties", []),
        "phone": form.get("phone") or None,
    }
    try:
        data = parse_new_staff(body)
        staff, _ = await create_staff(request, actor, data)
    except ApiError as e:
        if e.status == 403:
            raise
        shown = {k: v for k, v in body.items() if k != "password"}
        return await unit_page(request, form_error=e.message, form=shown, status=e.status)
    raise web.HTTPFound(f"/units/{code}?created={staff.username}")


async def experts(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    filters = _safe_filters(request)
    rows = await experts_for(services(request).db, actor, specialty=filters["specialty"] or None,
                             tier=filters["tier"] or None, name=filters["q"] or None)
    return await render(request, "experts.html", {
        "experts": [{"staff": st, "unit": un, "linked": can_view_unit(actor, un.path)} for st, un in rows],
        "filters": filters, "specialties": SPECIALTIES, "tiers": TIERS,
    })


def setup(app: web.Application) -> None:
    app.router.add_get("/network", network, name="network")
    app.router.add_get("/units/{code}", unit_page, name="unit")
    app.router.add_post("/units/{code}/staff", unit_add_staff)
    app.router.add_get("/experts", experts, name="experts")
