"""Time for the whole server: an injectable clock for "now", and Beijing time defined once.

Times are stored in UTC and shown in Beijing time (``BEIJING``). Business times (deadlines, signatures,
grants, ledger entries) come from the app's :class:`Clock` (``services(request).clock``), which tests set
and advance. No aiohttp here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


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
