"""The councils feature: the JSON API (``api.py``, registered on import) and the pages (``pages.py``).
``setup`` is the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.councils.http import (
    api,  # noqa: F401  (registers /api/councils… routes)
    pages,
)


def setup(app: web.Application) -> None:
    pages.setup(app)
