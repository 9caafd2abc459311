"""The councils feature: the JSON API (``api.py``, registered on import); pages are added by ``pages.py``."""

from __future__ import annotations

from aiohttp import web

from server.councils.http import api  # noqa: F401  (registers /api/councils… routes)


def setup(app: web.Application) -> None:
    """Nothing to add beyond the API routes (registered with server.api.registry on import)."""
