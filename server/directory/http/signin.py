"""Signing in, shared by the API (``POST /api/auth/login``) and the login form: the password check behind
the per-account and per-address throttles."""

from __future__ import annotations

from aiohttp import web

from server.directory.models import Staff, Unit
from server.directory.queries import sign_in_row
from server.errors import ApiError, unauthorized
from server.http import client_ip
from server.security.attempts import Attempts
from server.security.passwords import DUMMY_HASH, check_password
from server.services import services

LOGIN_FAILURE = "用户名或密码错误 / wrong username or password"

# Wrong passwords count per (account, address) pair: five lock that account from that address only, so
# nobody can lock a colleague out from elsewhere. One address also has a wider budget across all accounts,
# so it cannot try five passwords on every account in turn.
LOGIN_PAIR_LIMIT = 5
LOGIN_ADDRESS_LIMIT = 30
LOGIN_WINDOW_S = 300


def login_keys(username: str, ip: str) -> tuple[str, str]:
    """The (account, address) key and the address key; the address comes from server.security.clientip."""
    return f"user:{username.lower()}|ip:{ip}", f"ip:{ip}"


async def authenticate(request: web.Request, username: str, password: str) -> tuple[Staff, Unit]:
    """Shared by the API and the login form: rate-limited, same answer whether or not the user exists."""
    by_pair: Attempts = services(request).login_limiter
    by_address: Attempts = services(request).login_address_limiter
    pair, address = login_keys(username, client_ip(request))
    if await by_pair.blocked(pair) or await by_address.blocked(address):
        raise ApiError(429, "rate_limited", "too many failed logins; try again later")
    async with services(request).db.read() as s:
        row = await sign_in_row(s, username)
    staff_hash = row[0].password_hash if row and row[0].active else DUMMY_HASH
    ok = check_password(password, staff_hash) and row is not None and row[0].active
    if not ok or row is None:
        await by_pair.fail(pair)
        await by_address.fail(address)
        raise unauthorized(LOGIN_FAILURE)
    await by_pair.reset(pair)
    return row[0], row[1]
