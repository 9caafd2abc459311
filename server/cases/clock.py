"""An injectable clock: the server asks it for "now", tests set and advance it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, fixed: datetime | None = None) -> None:
        self._fixed = fixed

    def now(self) -> datetime:
        return self._fixed if self._fixed is not None else datetime.now(UTC)

    def set(self, at: datetime | None) -> None:
        if at is not None and at.tzinfo is None:
            raise ValueError("use an aware UTC datetime")
        self._fixed = at

    def advance(self, delta: timedelta) -> datetime:
        self._fixed = self.now() + delta
        return self._fixed
