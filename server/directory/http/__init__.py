"""The directory on the web: units and staff as JSON (``api``, with sign-in), and their pages (``pages``). ``setup`` is the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.directory.http import api, pages  # noqa: F401  (API routes register on import)


def setup(app: web.Application) -> None:
    api.setup(app)
    pages.setup(app)
