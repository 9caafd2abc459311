"""Who is calling: bearer tokens for the API, a signed cookie for browser pages."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.db import Database
from server.directory.models import Staff, Unit
from server.errors import ApiError, forbidden, unauthorized
from server.policy import Actor
from server.security import csrf, tokens

API_TOKEN_TTL = 12 * 3600
SESSION_COOKIE = "concord_session"
SESSION_TTL = 12 * 3600


class ActorCache:
    """Recently seen callers, so an API request does not cost a database round trip.

    A change to an account (deactivation, new role or unit) reaches requests at most ``TTL_S`` later;
    the node that makes the change drops the entry at once (``forget``).
    """

    TTL_S = 5.0
    MAX = 10_000

    def __init__(self) -> None:
        self._entries: dict[int, tuple[float, Actor | None]] = {}

    def get(self, staff_id: int, now: float) -> tuple[bool, Actor | None]:
        hit = self._entries.get(staff_id)
        if hit is None or hit[0] < now:
            return False, None
        return True, hit[1]

    def put(self, staff_id: int, actor: Actor | None, now: float) -> None:
        if len(self._entries) >= self.MAX:
            self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
            if len(self._entries) >= self.MAX:
                self._entries.clear()
        self._entries[staff_id] = (now + self.TTL_S, actor)

    def forget(self, staff_id: int | None = None) -> None:
        if staff_id is None:
            self._entries.clear()
        else:
            self._entries.pop(staff_id, None)


async def cached_actor(app: web.Application, staff_id: int) -> Actor | None:
    cache: ActorCache | None = app.get("actor_cache")
    if cache is None:
        return await load_actor(app["db"], staff_id)
    now = time.monotonic()
    found, actor = cache.get(staff_id, now)
    if not found:
        actor = await load_actor(app["db"], staff_id)
        cache.put(staff_id, actor, now)
    return actor


async def load_actor(db: Database, staff_id: int) -> Actor | None:
    async with db.read() as s:
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
    return await cached_actor(request.app, sub)


async def current_actor(request: web.Request) -> Actor | None:
    """The caller, if authenticated: Authorization header first, then the session cookie."""
    if "actor" in request:
        return request["actor"]
    actor = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        actor = await _actor_from_token(request, "api", header[7:].strip())
        request["auth_via"] = "bearer"
    elif SESSION_COOKIE in request.cookies:
        actor = await _actor_from_token(request, "session", request.cookies[SESSION_COOKIE])
        request["auth_via"] = "cookie"
    request["actor"] = actor
    return actor


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def require_actor(request: web.Request, roles: set[str] | None = None) -> Actor:
    """The caller or 401. A browser (cookie) making a change must also prove CSRF: the ``X-CSRF-Token``
    header (base.html carries it in ``<meta name="csrf-token">``) or the form's ``csrf_token`` field."""
    actor = await current_actor(request)
    if actor is None:
        raise unauthorized("missing, invalid or expired token")
    if request.get("auth_via") == "cookie" and request.method not in SAFE_METHODS:
        sent: object = request.headers.get(csrf.CSRF_HEADER)
        if not sent and request.content_type in FORM_TYPES:
            sent = (await request.post()).get(csrf.CSRF_FIELD)
        if not csrf.valid(request.app["config"].secret_key, request.cookies.get(csrf.CSRF_COOKIE), sent):
            raise ApiError(403, "csrf", "missing or invalid CSRF token; reload the page and try again")
    if roles is not None and actor.role not in roles:
        raise forbidden()
    return actor


def actor_json(actor: Actor) -> dict[str, Any]:
    return actor.as_dict()
