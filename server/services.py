"""The app's services, typed, under one ``web.AppKey``: what handlers and features reach through the app.

``create_app`` builds :class:`Services` with the shared services (settings, database, clock, metrics,
caches, the login counter, the bus name). A feature's ``setup()`` fills in its own fields (the room hub,
recording, the verify executor, ...); such a field is ``None`` (or empty) only when its feature is not loaded.
Handlers read them with ``services(request)``, features with ``services(app)``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from server.clock import Clock

if TYPE_CHECKING:
    import jinja2

    from server.agreements.keys import Keyring
    from server.auth import ActorCache
    from server.config import Config
    from server.db import Database
    from server.directory.cache import UnitCache
    from server.metrics import Metrics
    from server.recording.jobs import JobQueue
    from server.recording.playback import Playback
    from server.recording.service import RecordingService
    from server.rooms.event_writer import RoomEventWriter
    from server.rooms.hub import RoomHub
    from server.rooms.signaling import SignalingSettings
    from server.security.attempts import Attempts
    from server.security.ratelimit import RateLimiter
    from server.sfu.bridge import SfuBridge

# Adds values to every page's template context (the notification bell): (request, actor) -> dict.
PageExtra = Callable[[web.Request, Any], Awaitable[dict[str, Any]]]
ErrorPage = Callable[[web.Request, int, str], Awaitable[web.Response]]


def _by_setup(feature: str) -> Any:
    """A field the feature's ``setup()`` sets (None until then, and without that feature)."""
    return field(default=None, repr=False, metadata={"set_by": feature})


@dataclass(eq=False)
class Services:
    # Shared by every domain (create_app).
    config: Config
    db: Database
    metrics: Metrics
    units_cache: UnitCache
    actor_cache: ActorCache
    bus_name: str
    clock: Clock = field(default_factory=Clock)
    login_limiter: Attempts = _by_setup("app")
    # The city's ledger key, which signs checkpoints (server.checkpoints).
    ledger_keys: Keyring = _by_setup("app")
    # The Redis client the attempt counters share (server.security.attempts), when Redis is configured.
    attempts_redis: Any = None

    # Pages (server.views.*).
    jinja: jinja2.Environment | None = None
    render_error: ErrorPage | None = None
    page_extras: list[PageExtra] = field(default_factory=list)
    room_modules: list[str] = field(default_factory=list)
    join_page_limiter: RateLimiter = _by_setup("sessions pages")
    status_ip_attempts: Attempts = _by_setup("intake pages")
    status_ref_attempts: Attempts = _by_setup("intake pages")
    intake_limiter: RateLimiter = _by_setup("intake pages")
    intake_phone_limiter: RateLimiter = _by_setup("intake pages")

    # Cases, directory, sessions, ledger checkpoints.
    cases_scan_interval_s: float = 60.0
    checkpoint_interval_s: float = 3600.0
    login_address_limiter: Attempts = _by_setup("directory")
    join_describe_limiter: RateLimiter = _by_setup("sessions")

    # Rooms (server.rooms.signaling); room_hub stays None without that feature (callers check).
    signaling: SignalingSettings = _by_setup("rooms")
    room_hub: RoomHub = _by_setup("rooms")
    room_events: RoomEventWriter = _by_setup("rooms")
    ws_join_limiter: RateLimiter = _by_setup("rooms")
    ws_identity_limiter: RateLimiter = _by_setup("rooms")
    ws_check_limiter: Attempts = _by_setup("rooms")
    # The SFU backend (server.sfu.bridge), only when CONCORD_JANUS_URL is set; None means mesh only.
    sfu: SfuBridge | None = None

    # Recording (server.recording.feature).
    recording_node: str = ""
    recording: RecordingService = _by_setup("recording")
    playback: Playback = _by_setup("recording")
    jobs: JobQueue = _by_setup("recording")

    # Agreements (server.agreements).
    agreement_keys: Keyring = _by_setup("agreements")
    verify_slots: asyncio.Semaphore = _by_setup("agreements")
    verify_waiting: int = 0
    verify_executor: concurrent.futures.ThreadPoolExecutor = _by_setup("agreements")
    agreement_font_warmup: asyncio.Future[Any] | None = None


SERVICES = web.AppKey("services", Services)


def services(where: web.Request | web.Application) -> Services:
    """The app's services, from a request or from the app itself."""
    app = where.app if isinstance(where, web.Request) else where
    return app[SERVICES]
