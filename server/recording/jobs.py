"""A small in-process job queue with a bound: heavy work (composing playback files) off the live path.

One worker runs jobs one at a time in a thread, at lower CPU priority, so a long compose never
starves the event loop or the live rooms. The queue holds at most ``limit`` waiting jobs; past that
``submit`` refuses (the API answers 429) instead of piling work up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("concord.jobs")


class QueueFull(Exception):
    pass


@dataclass
class Job:
    key: str
    run: Callable[[], Awaitable[Any]]


class JobQueue:
    def __init__(self, limit: int = 8, workers: int = 1) -> None:
        self.limit = limit
        self._queue: asyncio.Queue[Job] = asyncio.Queue(limit)
        self._pending: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []
        self.running: str | None = None
        self.n_workers = workers

    def start(self) -> None:
        for i in range(self.n_workers):
            self._workers.append(asyncio.create_task(self._work(), name=f"job-worker-{i}"))

    def submit(self, key: str, run: Callable[[], Awaitable[Any]]) -> bool:
        """Queue a job unless one with this key is already waiting. False when it was a duplicate."""
        if key in self._pending:
            return False
        try:
            self._queue.put_nowait(Job(key, run))
        except asyncio.QueueFull as e:
            raise QueueFull(f"{self.limit} jobs already waiting") from e
        self._pending.add(key)
        return True

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._pending.discard(job.key)
            self.running = job.key
            try:
                await job.run()
            except Exception:
                log.exception("job %s failed", job.key)
            finally:
                self.running = None

    async def close(self) -> None:
        for t in self._workers:
            t.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)


async def in_background_thread(fn: Callable[..., Any], *args: Any, nice: int = 10) -> Any:
    """Run ``fn`` in a thread whose CPU priority is lowered (Linux: per-thread nice)."""

    def run() -> Any:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except (OSError, AttributeError):
            pass
        return fn(*args)

    return await asyncio.to_thread(run)
