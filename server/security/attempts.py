"""Failed-credential counters (passwords, identity checks) that hold across every node.

Guessing a password or an ID's last four digits must cost the same whether a load balancer spreads the
guesses over one node or five, so with Redis configured the counts live there; without it, in memory.
If Redis stops answering, each node falls back to its own count rather than locking everyone out or
letting guesses through unlimited.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from server.security.ratelimit import RateLimiter

if TYPE_CHECKING:
    from server.services import Services

log = logging.getLogger(__name__)


class Attempts(Protocol):
    limit: int
    window_s: float

    async def blocked(self, key: str) -> bool:
        """True when ``key`` has used up its failures in the window."""

    async def fail(self, key: str) -> None:
        """Count one failure for ``key``."""

    async def reset(self, key: str) -> None:
        """Forget ``key``'s failures (after a success)."""


class LocalAttempts:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._limiter = RateLimiter(limit=limit, window_s=window_s)

    async def blocked(self, key: str) -> bool:
        return self._limiter.blocked(key)

    async def fail(self, key: str) -> None:
        self._limiter.hit(key)

    async def reset(self, key: str) -> None:
        self._limiter.reset(key)


class RedisAttempts:
    """A sliding window per key: a sorted set of failure times, trimmed on every read."""

    def __init__(self, redis: Any, name: str, limit: int, window_s: float, prefix: str = "concord") -> None:
        self.limit = limit
        self.window_s = window_s
        self.redis = redis
        self.name = name
        self.prefix = prefix
        self._local = LocalAttempts(limit, window_s)
        self._down = False

    def _key(self, key: str) -> str:
        # Hashed: user names and addresses do not sit in Redis in the clear.
        return f"{self.prefix}:attempts:{self.name}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    def _lost(self, e: Exception) -> None:
        if not self._down:
            log.warning("attempt counters: Redis unavailable (%s); counting on this node", type(e).__name__)
        self._down = True

    async def blocked(self, key: str) -> bool:
        k = self._key(key)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(k, "-inf", time.time() - self.window_s)
                pipe.zcard(k)
                _, n = await pipe.execute()
        except Exception as e:
            self._lost(e)
            return await self._local.blocked(key)
        self._down = False
        return int(n) >= self.limit or await self._local.blocked(key)

    async def fail(self, key: str) -> None:
        await self._local.fail(key)
        now = time.time()
        k = self._key(key)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(k, {f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
                pipe.expire(k, int(self.window_s) + 1)
                await pipe.execute()
        except Exception as e:
            self._lost(e)

    async def reset(self, key: str) -> None:
        await self._local.reset(key)
        try:
            await self.redis.delete(self._key(key))
        except Exception as e:
            self._lost(e)


def redis_client(url: str) -> Any:
    import redis.asyncio as aioredis

    # Short timeouts: a login must not hang on a sick Redis; the local count takes over instead.
    return aioredis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, max_connections=16)


def attempts(svc: Services, name: str, limit: int, window_s: float) -> Attempts:
    """The counter for ``name`` in the app's services: in Redis when the app has a Redis URL, else on this
    node. The Redis client is shared (``svc.attempts_redis``); the app closes it on clean-up."""
    config = svc.config
    url = config.redis_url
    if not url:
        return LocalAttempts(limit, window_s)
    if svc.attempts_redis is None:
        svc.attempts_redis = redis_client(url)
    return RedisAttempts(svc.attempts_redis, name, limit, window_s, config.redis_prefix)
