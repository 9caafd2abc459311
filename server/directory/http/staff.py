"""Units and staff accounts as both the directory API and its pages handle them: the unit a request names
(within the caller's subtree), a new account's fields checked, the account created."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from server.directory.models import Staff, Unit
from server.directory.queries import DirectoryError, add_staff, unit_by_id
from server.directory.tiers import Role, Specialty, Tier
from server.errors import bad_request, conflict, field, forbidden, not_found
from server.policy import Actor, can_manage_staff, can_view_unit
from server.services import services

log = logging.getLogger("concord.directory")

TIERS = [str(t) for t in Tier]
ROLES = [str(x) for x in Role]
SPECIALTIES = [str(x) for x in Specialty]


async def visible_unit(request: web.Request, actor: Actor, code: str) -> dict[str, Any]:
    """The cached unit row for ``code``: 404 when no such unit, 403 when outside the actor's subtree."""
    u = await services(request).units_cache.get(services(request).db, code)
    if u is None:
        raise not_found(f"unknown unit {code[:40]!r}")
    if not can_view_unit(actor, u["path"]):
        raise forbidden("this unit is outside your part of the network")
    return u


def parse_new_staff(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a staff-creation body (API or form) into add_staff arguments; 400 on anything off."""
    username = field(body, "username", max_len=64)
    role = field(body, "role", max_len=32)
    if role not in ROLES:
        raise bad_request(f"role must be one of: {', '.join(ROLES)}", "invalid_field", field="role")
    specialties = field(body, "specialties", list, required=False, default=[])
    if not all(isinstance(x, str) and x in SPECIALTIES for x in specialties):
        raise bad_request(f"specialties must be from: {', '.join(SPECIALTIES)}", "invalid_field", field="specialties")
    if specialties and role != Role.EXPERT:
        raise bad_request("only experts have specialties", "invalid_field", field="specialties")
    password = field(body, "password", max_len=256)
    if len(password) < 8:
        raise bad_request("password must be at least 8 characters", "invalid_field", field="password")
    return {
        "username": username,
        "name": (field(body, "name", required=False, max_len=100) or "").strip() or username,
        "role": role,
        "unit": field(body, "unit", max_len=32),
        "password": password,
        "specialties": sorted(set(specialties), key=SPECIALTIES.index),
        "phone": field(body, "phone", required=False, max_len=40),
    }


async def create_staff(request: web.Request, actor: Actor, data: dict[str, Any]) -> tuple[Staff, Unit]:
    """Create one account at a unit in the admin's subtree (policy.can_manage_staff)."""
    u = await services(request).units_cache.get(services(request).db, data["unit"])
    if u is None:
        raise not_found(f"unknown unit {data['unit'][:40]!r}")
    if not can_manage_staff(actor, u["path"]):
        raise forbidden("only an administrator of this unit or one above it may add its staff")
    try:
        async with services(request).db.session() as s:
            unit = await unit_by_id(s, u["id"])
            staff = await add_staff(s, data["username"], data["name"], data["password"], data["role"], unit,
                                    data["specialties"], data["phone"])
    except DirectoryError as e:
        if "already exists" in str(e):
            raise conflict(str(e), "username_taken") from e
        raise bad_request(str(e), "invalid_field") from e
    except IntegrityError as e:  # a concurrent request took the name between the check and the insert
        raise conflict(f"user {data['username']!r} already exists", "username_taken") from e
    log.info("staff %s (%s) created at %s by %s", staff.username, staff.role, unit.code, actor.username)
    return staff, unit
