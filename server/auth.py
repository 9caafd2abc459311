"""Who is calling: bearer tokens for the API, a signed cookie for browser pages."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.db import Database
from server.directory.models import Staff, Unit
from server.errors import forbidden, unauthorized
from server.policy import Actor
from server.security import tokens

API_TOKEN_TTL = 12 * 3600
SESSION_COOKIE = "concord_session"
SESSION_TTL = 12 * 3600


async def load_actor(db: Database, staff_id: int) -> Actor | None:
    async with db.session() as s:
        row = (
            await s.execute(select(Staff, Unit).join(Unit, Staff.unit_id == Unit.id).where(Staff.id == staff_id))
        ).first()
    if row is None:
        return None
    staff, unit = row
    if not staff.active:
        return None
    return actor_of(staff, unit)


def actor_of(staff: Staff, unit: Unit) -> Actor:
    return Actor(
        id=staff.id,
        username=staff.username,
        name=staff.name,
        role=staff.role,
        unit_id=unit.id,
        unit_code=unit.code,
        unit_path=unit.path,
        unit_tier=unit.tier,
        specialties=tuple(staff.specialties or ()),
    )


def issue_api_token(secret: bytes, staff_id: int) -> str:
    return tokens.sign(secret, "api", {"sub": staff_id}, API_TOKEN_TTL)


def issue_session_cookie(secret: bytes, staff_id: int, nonce: str) -> str:
    return tokens.sign(secret, "session", {"sub": staff_id, "n": nonce}, SESSION_TTL)


async def _actor_from_token(request: web.Request, purpose: str, token: str) -> Actor | None:
    try:
        body = tokens.verify(request.app["config"].secret_key, purpose, token)
    except tokens.TokenError:
        return None
    sub = body.get("sub")
    if not isinstance(sub, int):
        return None
    request["token_body"] = body
    return await load_actor(request.app["db"], sub)


async def current_actor(request: web.Request) -> Actor | None:
    """The caller, if authenticated: Authorization header first, then the session cookie."""
    if "actor" in request:
        return request["actor"]
    actor = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        actor = await _actor_from_token(request, "api", header[7:].strip())
    elif SESSION_COOKIE in request.cookies:
        actor = await _actor_from_token(request, "session", request.cookies[SESSION_COOKIE])
    request["actor"] = actor
    return actor


async def require_actor(request: web.Request, roles: set[str] | None = None) -> Actor:
    actor = await current_actor(request)
    if actor is None:
        raise unauthorized("missing, invalid or expired token")
    if roles is not None and actor.role not in roles:
        raise forbidden()
    return actor


def actor_json(actor: Actor) -> dict[str, Any]:
    return actor.as_dict()
