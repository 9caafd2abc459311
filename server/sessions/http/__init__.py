"""Sessions on the web: the JSON API (``api``) and the pages, the room page included (``pages``). ``setup`` is the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.sessions.http import api, pages  # noqa: F401  (API routes register on import)


def setup(app: web.Application) -> None:
    api.setup(app)
    pages.setup(app)
