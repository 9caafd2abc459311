"""Wrong passwords lock an (account, address) pair, never the account for everyone; an address has a
wider budget across accounts. Addresses come from server/security/clientip.py (proxy headers only from a
trusted proxy)."""

from __future__ import annotations

import dataclasses

import pytest

from server.directory.demo import DEMO_PASSWORD
from server.directory.http.signin import LOGIN_ADDRESS_LIMIT, LOGIN_PAIR_LIMIT
from server.security.clientip import parse_networks
from server.services import services


@pytest.fixture
async def proxied(aiohttp_client, config):  # type: ignore[no-untyped-def]
    """The app behind a trusted reverse proxy on loopback: X-Forwarded-For names the browser."""
    from server.app import create_app
    from server.directory.demo import seed

    app = create_app(dataclasses.replace(config, trusted_proxies=parse_networks("127.0.0.1")))
    c = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)
    return c


async def attempt(client, username: str, password: str, ip: str | None = None) -> int:  # type: ignore[no-untyped-def]
    headers = {"X-Forwarded-For": ip} if ip else {}
    r = await client.post("/api/auth/login", json={"username": username, "password": password}, headers=headers)
    return r.status


async def test_guesses_from_one_address_do_not_lock_the_owner_out_elsewhere(proxied) -> None:  # type: ignore[no-untyped-def]
    attacker, owner = "203.0.113.9", "198.51.100.20"
    for _ in range(LOGIN_PAIR_LIMIT):
        assert await attempt(proxied, "mediator", "guess-guess", attacker) == 401
    # The attacker's address is locked for this account, even with the right password...
    assert await attempt(proxied, "mediator", DEMO_PASSWORD, attacker) == 429
    # ...but the owner, from their own address, logs in.
    assert await attempt(proxied, "mediator", DEMO_PASSWORD, owner) == 200
    # And from the attacker's address other accounts still work (the pair is locked, not the address).
    assert await attempt(proxied, "admin", DEMO_PASSWORD, attacker) == 200


async def test_one_address_trying_many_accounts_is_stopped(proxied) -> None:  # type: ignore[no-untyped-def]
    sprayer = "203.0.113.50"
    for i in range(LOGIN_ADDRESS_LIMIT):
        assert await attempt(proxied, f"user{i % 10}", "guess-guess", sprayer) == 401
    assert await attempt(proxied, "mediator", DEMO_PASSWORD, sprayer) == 429
    assert await attempt(proxied, "mediator", DEMO_PASSWORD, "198.51.100.21") == 200


async def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(client) -> None:  # type: ignore[no-untyped-def]
    for i in range(LOGIN_PAIR_LIMIT):
        assert await attempt(client, "mediator", "guess-guess", f"192.0.2.{i}") == 401
    # Every guess counted against the real peer (127.0.0.1), whatever the header claimed.
    assert await attempt(client, "mediator", DEMO_PASSWORD, "192.0.2.200") == 429


async def test_a_success_clears_the_pair(proxied) -> None:  # type: ignore[no-untyped-def]
    ip = "198.51.100.30"
    for _ in range(LOGIN_PAIR_LIMIT - 1):
        assert await attempt(proxied, "mediator", "guess-guess", ip) == 401
    assert await attempt(proxied, "mediator", DEMO_PASSWORD, ip) == 200
    for _ in range(LOGIN_PAIR_LIMIT - 1):
        assert await attempt(proxied, "mediator", "guess-guess", ip) == 401
    assert await attempt(proxied, "mediator", DEMO_PASSWORD, ip) == 200
