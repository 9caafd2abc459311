"""Live rooms on the web: the signaling WebSocket (``signaling``, see docs/protocol.md). ``setup`` is the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.rooms.http import signaling  # noqa: F401  (API routes register on import)


def setup(app: web.Application) -> None:
    signaling.setup(app)
