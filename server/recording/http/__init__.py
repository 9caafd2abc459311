"""Recording on the web: the JSON API (``api``), the recordings and playback pages (``pages``) and the
feature's wiring (``feature``: recovery at start, the recorder service, the playback job queue).
``setup`` is the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.recording.http import api, feature, pages  # noqa: F401  (API routes register on import)


def setup(app: web.Application) -> None:
    pages.setup(app)
    feature.setup(app)
