"""Forwarded headers are believed only from a trusted proxy (server/security/clientip.py), and even then
they never name the links the server prints (contact cards, invitations, the verify address): those come
from CONCORD_PUBLIC_URL alone (server/publicurl.py, tests/integration/test_public_url.py)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from server.publicurl import PLACEHOLDER
from server.security.clientip import _forwarded_for, forwarded_pairs, parse_networks
from server.services import services
from tests.conftest import login
from tests.support.rooms import invite, make_session

LINK = re.compile(r'id="card-intake-link">([^<]+)<')


@pytest.fixture
async def proxied(aiohttp_client, config):  # type: ignore[no-untyped-def]
    from server.app import create_app
    from server.directory.demo import seed

    app = create_app(dataclasses.replace(config, trusted_proxies=parse_networks("127.0.0.1")))
    c = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)
    return c


async def card_link(client, headers: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    r = await client.get("/cards/units/340321001001", headers={**h, **headers})
    assert r.status == 200, await r.text()
    m = LINK.search(await r.text())
    assert m
    return m.group(1)


FORGED = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}


async def test_without_a_trusted_proxy_forwarded_host_and_scheme_are_ignored(client) -> None:  # type: ignore[no-untyped-def]
    assert await card_link(client, FORGED) == PLACEHOLDER  # no CONCORD_PUBLIC_URL in the tests' config
    assert await card_link(client, {"Forwarded": "for=1.2.3.4;proto=https;host=evil.example"}) == PLACEHOLDER
    # The invitation links and the session page's absolute links too.
    sid, h = await make_session(client)
    await invite(client, h, sid, "张三")
    page = await (await client.get(f"/sessions/{sid}", headers={**h, **FORGED})).text()
    assert "evil.example" not in page


async def test_even_a_trusted_proxy_does_not_name_printed_links(proxied) -> None:  # type: ignore[no-untyped-def]
    assert await card_link(proxied, {"X-Forwarded-Host": "concord.example.cn", "X-Forwarded-Proto": "https"}) == \
        PLACEHOLDER
    assert await card_link(proxied, {"Forwarded": 'for="[2001:db8::7]:4711";proto=https;host=concord.example.cn'}) \
        == PLACEHOLDER
    link = await card_link(proxied, {"X-Forwarded-Host": "evil.example/phish?", "X-Forwarded-Proto": "javascript"})
    assert link == PLACEHOLDER


async def test_forwarded_header_gives_the_client_address_behind_a_trusted_proxy(proxied) -> None:  # type: ignore[no-untyped-def]
    """The login throttle counts the RFC 7239 ``for=`` address when no X-Forwarded-For is sent."""
    for _ in range(5):
        r = await proxied.post("/api/auth/login", json={"username": "mediator", "password": "guess-guess"},
                               headers={"Forwarded": "for=203.0.113.77"})
        assert r.status == 401
    r = await proxied.post("/api/auth/login", json={"username": "mediator", "password": "x"},
                           headers={"Forwarded": "for=203.0.113.77"})
    assert r.status == 429
    r = await proxied.post("/api/auth/login", json={"username": "mediator", "password": "x"},
                           headers={"Forwarded": "for=203.0.113.78"})
    assert r.status == 401


def test_forwarded_parsing() -> None:
    hops = forwarded_pairs('for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"; HOST=a.b')
    assert hops == [{"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"},
                    {"for": "[2001:db8:cafe::17]:4711", "host": "a.b"}]
    assert _forwarded_for("[2001:db8:cafe::17]:4711") == "2001:db8:cafe::17"
    assert _forwarded_for("192.0.2.60:80") == "192.0.2.60"
    assert _forwarded_for("2001:db8::1") == "2001:db8::1"
    assert forwarded_pairs(";;,=,") == []
