"""The server signs a ledger checkpoint at intervals (config.schedulers): every
``services(app).checkpoint_interval_s`` (default one hour) when the tree has grown since the last one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from server import checkpoints
from server.agreements.keys import KeyStoreError
from server.services import services

log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    if services(app).config.schedulers:
        app.cleanup_ctx.append(_watch)


async def tick(app: web.Application) -> checkpoints.SignedTreeHead | None:
    ring = services(app).ledger_keys
    async with services(app).db.session() as s:
        return await checkpoints.sign_if_due(s, ring, int(services(app).checkpoint_interval_s * 1000), datetime.now(UTC))


async def _loop(app: web.Application) -> None:
    while True:
        try:
            sth = await tick(app)
            if sth is not None:
                log.info("ledger checkpoint signed: %d leaves, root %s", sth.size, sth.root)
        except (KeyStoreError, OSError) as e:
            log.error("ledger checkpoint not signed: %s", e)
        except Exception:  # a database hiccup must not end the schedule
            log.exception("ledger checkpoint not signed")
        await asyncio.sleep(min(60.0, services(app).checkpoint_interval_s))


async def _watch(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_loop(app))
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
