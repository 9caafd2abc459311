"""Intake on the web: the public petition form, its receipt and status pages (``pages``). ``setup`` is the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.intake.http import pages  # noqa: F401  (API routes register on import)


def setup(app: web.Application) -> None:
    pages.setup(app)
