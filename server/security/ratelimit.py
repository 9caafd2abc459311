"""In-memory sliding-window limits (per node). Used for login failures, joins and intake forms."""

from __future__ import annotations

import time
from collections import deque


class RateLimiter:
    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def _trim(self, key: str, now: float) -> deque[float]:
        q = self._hits.get(key)
        if q is None:
            if len(self._hits) >= self.max_keys:
                self._evict(now)
            q = self._hits[key] = deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def _evict(self, now: float) -> None:
        for k in [k for k, q in self._hits.items() if not q or q[-1] <= now - self.window_s]:
            del self._hits[k]
        while len(self._hits) >= self.max_keys:
            self._hits.pop(next(iter(self._hits)))

    def blocked(self, key: str, now: float | None = None) -> bool:
        return len(self._trim(key, now if now is not None else time.monotonic())) >= self.limit

    def hit(self, key: str, now: float | None = None) -> bool:
        """Record one event; True when the key is now over its limit."""
        now = now if now is not None else time.monotonic()
        q = self._trim(key, now)
        q.append(now)
        return len(q) > self.limit

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
