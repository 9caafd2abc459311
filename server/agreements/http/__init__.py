"""Agreements on the web. ``api`` (staff) and ``party`` (a party reached from their invitation) are the JSON
API, registered with ``server.api.registry`` on import; ``pages`` are the server-rendered pages. ``setup`` is
the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.agreements.http import api, pages, party  # noqa: F401  (API routes register on import)


def setup(app: web.Application) -> None:
    api.setup(app)
    pages.setup(app)
