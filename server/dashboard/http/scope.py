"""The unit a dashboard request is about, and its figures: shared by the dashboard API and pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from server import access
from server.auth import require_actor
from server.dashboard import present, queries
from server.dashboard.present import UnitInfo
from server.errors import bad_request, forbidden, not_found
from server.http import now_of
from server.policy import Actor
from server.services import services

UNIT_CODE = re.compile(r"^[0-9]{6,12}$")


@dataclass
class Scope:
    actor: Actor
    unit: UnitInfo
    children: list[UnitInfo]
    tiers: dict[str, str]
    names: dict[str, str]


async def scope(request: web.Request) -> Scope:
    """The caller and the unit whose figures they asked for: 400 malformed, 404 unknown, 403 not theirs."""
    actor = await require_actor(request)
    raw = request.query.get("unit")
    code = actor.unit_code if raw is None or raw == "" else raw
    if not UNIT_CODE.match(code):
        raise bad_request("unit must be a unit code (6 to 12 digits)", "invalid_unit", field="unit")
    cache = services(request).units_cache
    rows = await cache.all(services(request).db)
    row = cache.by_code.get(code)
    if row is None:
        raise not_found(f"unknown unit {code}")
    # A unit's existence is not confidential (the directory lists it): 403, not 404.
    if not access.may(actor, access.Action.VIEW, access.Record(access.Kind.FIGURE, row["path"])):
        raise forbidden("this unit's dashboard is outside your part of the network")
    unit = UnitInfo(code, row["json"]["name"], row["json"]["tier"], row["path"])
    children = [UnitInfo(x["json"]["code"], x["json"]["name"], x["json"]["tier"], x["path"])
                for x in rows if x["json"]["parent"] == code]
    tiers = {x["path"]: x["json"]["tier"] for x in rows if x["path"].startswith(unit.path)}
    names = {x["path"]: x["json"]["name"] for x in rows if x["path"].startswith(unit.path)}
    return Scope(actor, unit, children, tiers, names)


async def dashboard_data(request: web.Request, sc: Scope) -> dict[str, Any]:
    now: datetime = now_of(request)
    async with services(request).db.session() as s:
        fig = await queries.load(s, sc.actor, sc.unit.path, now, sc.tiers.get)
    return present.dashboard_json(fig, sc.unit, sc.children, sc.names)
