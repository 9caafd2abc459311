"""The dashboard on the web: figures as JSON (``api``) and the dashboard pages (``pages``). ``setup`` is the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.dashboard.http import api, pages  # noqa: F401  (API routes register on import)


def setup(app: web.Application) -> None:
    api.setup(app)
    pages.setup(app)
