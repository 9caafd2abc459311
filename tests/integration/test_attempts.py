"""Failed-credential counters: shared across nodes through Redis, and still counting when Redis is gone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from server.security.attempts import LocalAttempts, RedisAttempts, redis_client
from server.services import services


async def test_local_counts_to_the_limit_and_reset_clears() -> None:
    a = LocalAttempts(limit=3, window_s=60)
    for _ in range(2):
        await a.fail("user:zhangsan")
    assert not await a.blocked("user:zhangsan")
    await a.fail("user:zhangsan")
    assert await a.blocked("user:zhangsan") and not await a.blocked("user:lisi")
    await a.reset("user:zhangsan")
    assert not await a.blocked("user:zhangsan")


@pytest.mark.redis
async def test_two_nodes_share_one_count_through_redis(redis_url: str) -> None:
    prefix = f"concord-test-{uuid.uuid4().hex[:8]}"
    r1, r2 = redis_client(redis_url), redis_client(redis_url)
    node1 = RedisAttempts(r1, "login", limit=5, window_s=1.5, prefix=prefix)
    node2 = RedisAttempts(r2, "login", limit=5, window_s=1.5, prefix=prefix)
    try:
        for _ in range(3):
            await node1.fail("ip:192.0.2.7")
        for _ in range(2):
            await node2.fail("ip:192.0.2.7")
        # Neither node saw five failures itself; together they did.
        assert await node1.blocked("ip:192.0.2.7") and await node2.blocked("ip:192.0.2.7")
        assert not await node1.blocked("ip:192.0.2.8")
        keys = [k async for k in r1.scan_iter(f"{prefix}:*")]
        assert keys and not any(b"192.0.2.7" in k for k in keys)  # hashed, not in the clear
        await node2.reset("ip:192.0.2.7")
        assert not await node2.blocked("ip:192.0.2.7")
        # Failures leave the window as time passes.
        await node1.fail("user:wangwu")
        await node2.fail("user:wangwu")
        node1.limit = node2.limit = 2
        assert await node2.blocked("user:wangwu")
        await asyncio.sleep(1.6)
        assert not await node2.blocked("user:wangwu")
    finally:
        await r1.aclose()
        await r2.aclose()


async def test_redis_down_falls_back_to_counting_on_this_node() -> None:
    dead = redis_client("redis://127.0.0.1:1/0")  # nothing listens on port 1
    a = RedisAttempts(dead, "login", limit=2, window_s=60)
    try:
        assert not await a.blocked("user:zhaoliu")
        await a.fail("user:zhaoliu")
        await a.fail("user:zhaoliu")
        assert await a.blocked("user:zhaoliu")  # still limited, and no exception reached the caller
        await a.reset("user:zhaoliu")
        assert not await a.blocked("user:zhaoliu")
    finally:
        await dead.aclose()


@pytest.mark.redis
async def test_password_guesses_spread_over_two_nodes_are_refused(
        aiohttp_client, config, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from server.app import create_app
    from server.directory.demo import DEMO_PASSWORD, seed

    shared = dataclasses.replace(config, redis_url=redis_url, redis_prefix=f"concord-test-{uuid.uuid4().hex[:8]}")
    node1 = await aiohttp_client(create_app(shared))
    node2 = await aiohttp_client(create_app(shared))
    async with services(node1.app).db.session() as s:
        await seed(s)
    wrong = {"username": "mediator", "password": "guess-guess"}
    for node in (node1, node2, node1, node2, node1):
        assert (await node.post("/api/auth/login", json=wrong)).status == 401
    r = await node2.post("/api/auth/login", json={"username": "mediator", "password": DEMO_PASSWORD})
    assert r.status == 429 and (await r.json())["error"]["code"] == "rate_limited"
