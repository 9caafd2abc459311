"""The aiohttp application object: wiring only. Features register their own routes in ``setup``."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server import checkpoints
from server.agreements.http.keys import CASE_LINK
from server.api import (
    openapi,  # noqa: F401  (registers /api/openapi.json)
    registry,
)
from server.auth import ActorCache
from server.cases import agreement_link, session_link
from server.config import Config
from server.db import Database
from server.db.migrate import upgrade
from server.directory.cache import UnitCache
from server.errors import error_middleware
from server.metrics import Metrics, count_requests, healthz, metrics
from server.publicurl import warn_if_unset
from server.security.attempts import attempts
from server.security.headers import security_headers
from server.services import SERVICES, Services, services
from server.sessions.http.keys import CASE_GATE

log = logging.getLogger("concord")

# Each feature module has ``setup(app)``; it adds routes, app keys and start-up/clean-up hooks.
FEATURES = [
    "server.directory.http",
    "server.recording.http",
    "server.pages.site",
    "server.cases.http",
    "server.intake.http",
    "server.agreements.http",
    "server.sessions.http",
    "server.rooms.http",
    "server.sfu.http",  # after rooms: WHIP/WHEP terminals join rooms through the hub and the SFU bridge
    "server.dashboard.http",
    "server.checkpoint_watch",
]

MAX_BODY = 20 * 1024 * 1024  # evidence uploads; JSON bodies have their own smaller limits


async def favicon(request: web.Request) -> web.StreamResponse:
    """Browsers ask for /favicon.ico on every site, linked or not."""
    return web.FileResponse(services(request).config.web_dir / "static" / "favicon.ico",
                            headers={"Content-Type": "image/x-icon", "Cache-Control": "public, max-age=86400"})


def create_app(config: Config, *, migrate: bool = True) -> web.Application:
    app = web.Application(middlewares=[count_requests, error_middleware], client_max_size=MAX_BODY)
    app.on_response_prepare.append(security_headers)  # CSP, nosniff, Referrer-Policy on every response
    app[SERVICES] = svc = Services(
        config=config,
        db=Database(config.database_url),
        metrics=Metrics(),
        units_cache=UnitCache(),
        actor_cache=ActorCache(),
        bus_name="redis" if config.redis_url else "local",
    )
    # Failed passwords and identity answers, counted across nodes when Redis is configured.
    svc.login_limiter = attempts(svc, "login", limit=5, window_s=300)
    svc.ledger_keys = checkpoints.ledger_keyring(config.data_dir, config.secret_key)
    # Cross-domain interfaces (docs/architecture.md): each consumer declares a small protocol, the app wires
    # the implementation. "An agreement took effect, so advance its case": agreements -> cases.
    app[CASE_LINK] = agreement_link
    # "A session belongs to a case, so ask the case for access": sessions -> cases.
    app[CASE_GATE] = session_link

    for name in FEATURES:
        module = importlib.import_module(name)
        if hasattr(module, "setup"):
            module.setup(app)
    registry.add_routes(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    if (config.web_dir / "static").is_dir():
        app.router.add_static("/static/", config.web_dir / "static", append_version=True)
        app.router.add_get("/favicon.ico", favicon)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        warn_if_unset(config)  # documents then say "未配置公开地址" (server/publicurl.py)
        if migrate:
            await upgrade(services(app).db)
        lag = asyncio.create_task(services(app).metrics.watch_loop())
        yield
        lag.cancel()
        await services(app).db.close()
        if services(app).attempts_redis is not None:  # the attempt counters' shared client (security.attempts)
            await services(app).attempts_redis.aclose()

    # Runs before the features' own contexts, so the schema exists when they start.
    app.cleanup_ctx.insert(0, lifecycle)
    return app
