"""Who is calling: bearer tokens for the API, a signed cookie for browser pages."""

from __future__ import annotations

import time

from aiohttp import web
from sqlalchemy import select

from server.db import Database
from server.directory.models import Staff, Unit
from server.directory.queries import record
from server.errors import ApiError, forbidden, unauthorized
from server.policy import Actor
from server.security import csrf, tokens
from server.services import services

API_TOKEN_TTL = 12 * 3600
SESSION_COOKIE = "concord_session"
SESSION_TTL = 12 * 3600
# Per request: the caller (None when anonymous) and how they proved it ("bearer" or "cookie").
ACTOR: web.RequestKey[Actor | None] = web.RequestKey("actor")
AUTH_VIA = web.RequestKey("auth_via", str)


# The caller (None for an unknown or inactive account) and the instant its earlier tokens stopped counting.
Account = tuple[Actor | None, int]


class ActorCache:
    """Recently seen callers, so an API request does not cost a database round trip.

    A change to an account (deactivation, new role or unit, logout) reaches requests at most ``TTL_S``
    later; the node that makes the change drops the entry at once (``forget``).
    """

    TTL_S = 5.0
    MAX = 10_000

    def __init__(self) -> None:
        self._entries: dict[int, tuple[float, Account]] = {}

    def get(self, staff_id: int, now: float) -> Account | None:
        hit = self._entries.get(staff_id)
        if hit is None or hit[0] < now:
            return None
        return hit[1]

    def put(self, staff_id: int, account: Account, now: float) -> None:
        if len(self._entries) >= self.MAX:
            self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
            if len(self._entries) >= self.MAX:
                self._entries.clear()
        self._entries[staff_id] = (now + self.TTL_S, account)

    def forget(self, staff_id: int | None = None) -> None:
        if staff_id is None:
            self._entries.clear()
        else:
            self._entries.pop(staff_id, None)


async def cached_account(app: web.Application, staff_id: int) -> Account:
    cache: ActorCache | None = services(app).actor_cache
    if cache is None:
        return await load_account(services(app).db, staff_id)
    now = time.monotonic()
    account = cache.get(staff_id, now)
    if account is None:
        account = await load_account(services(app).db, staff_id)
        cache.put(staff_id, account, now)
    return account


async def load_account(db: Database, staff_id: int) -> Account:
    async with db.read() as s:
        row = (
            await s.execute(select(Staff, Unit).join(Unit, Staff.unit_id == Unit.id).where(Staff.id == staff_id))
        ).first()
    if row is None:
        return None, 0
    staff, unit = row
    return (actor_of(staff, unit) if staff.active else None), staff.signed_out_ms or 0


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


def now_ms() -> int:
    return int(time.time() * 1000)


def issue_api_token(secret: bytes, staff_id: int) -> str:
    return tokens.sign(secret, "api", {"sub": staff_id, "iat": now_ms()}, API_TOKEN_TTL)


def issue_session_cookie(secret: bytes, staff_id: int, nonce: str) -> str:
    return tokens.sign(secret, "session", {"sub": staff_id, "n": nonce, "iat": now_ms()}, SESSION_TTL)


async def sign_out(app: web.Application, staff_id: int, via: str) -> None:
    """End every session of the account: cookies and bearer tokens issued until now stop working."""
    async with services(app).db.session() as s:
        staff = (await s.execute(select(Staff).where(Staff.id == staff_id))).scalar_one()
        staff.signed_out_ms = now_ms()
        await record(s, "account.signed_out", staff, via=via)
    cache: ActorCache | None = services(app).actor_cache
    if cache is not None:
        cache.forget(staff_id)


async def _actor_from_token(request: web.Request, purpose: str, token: str) -> Actor | None:
    try:
        body = tokens.verify(services(request).config.secret_key, purpose, token)
    except tokens.TokenError:
        return None
    sub, iat = body.get("sub"), body.get("iat", 0)
    if not isinstance(sub, int) or not isinstance(iat, int):
        return None
    actor, signed_out_ms = await cached_account(request.app, sub)
    if signed_out_ms and iat <= signed_out_ms:  # a tie goes to the sign-out
        return None
    return actor


async def current_actor(request: web.Request) -> Actor | None:
    """The caller, if authenticated: Authorization header first, then the session cookie."""
    if ACTOR in request:
        return request[ACTOR]
    actor = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        actor = await _actor_from_token(request, "api", header[7:].strip())
        request[AUTH_VIA] = "bearer"
    elif SESSION_COOKIE in request.cookies:
        actor = await _actor_from_token(request, "session", request.cookies[SESSION_COOKIE])
        request[AUTH_VIA] = "cookie"
    request[ACTOR] = actor
    return actor


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def require_actor(request: web.Request, roles: set[str] | None = None) -> Actor:
    """The caller or 401. A browser (cookie) making a change must also prove CSRF: the ``X-CSRF-Token``
    header (base.html carries it in ``<meta name="csrf-token">``) or the form's ``csrf_token`` field."""
    actor = await current_actor(request)
    if actor is None:
        raise unauthorized("missing, invalid or expired token")
    if request.get(AUTH_VIA) == "cookie" and request.method not in SAFE_METHODS:
        sent: object = request.headers.get(csrf.CSRF_HEADER)
        if not sent and request.content_type in FORM_TYPES:
            sent = (await request.post()).get(csrf.CSRF_FIELD)
        if not csrf.valid(services(request).config.secret_key, request.cookies.get(csrf.CSRF_COOKIE), sent):
            raise ApiError(403, "csrf", "missing or invalid CSRF token; reload the page and try again")
    if roles is not None and actor.role not in roles:
        raise forbidden()
    return actor
