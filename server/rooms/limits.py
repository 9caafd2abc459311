"""Per-connection limits for the signaling socket (pure; the handler passes the time in)."""

from __future__ import annotations

from collections import deque


class AbuseGuard:
    """A token bucket for message rate, plus strikes for refused messages.

    Over the rate a message is refused (``rate_limited``) and counts as a strike; every other refusal is
    a strike too. ``strike_limit`` strikes within ``strike_window_s`` close the connection: that is
    "repeated abuse" in the contract.
    """

    def __init__(self, rate: float = 50.0, burst: float = 200.0, strike_limit: int = 20,
                 strike_window_s: float = 30.0) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last: float | None = None
        self.strike_limit = strike_limit
        self.strike_window_s = strike_window_s
        self._strikes: deque[float] = deque()

    def take(self, now: float) -> bool:
        """Spend one message; False when over the rate."""
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def strike(self, now: float) -> bool:
        """Record a refused message; True when the connection has abused its welcome."""
        self._strikes.append(now)
        while self._strikes and self._strikes[0] <= now - self.strike_window_s:
            self._strikes.popleft()
        return len(self._strikes) >= self.strike_limit
