"""Councils on the web: the pages (``pages``). ``setup`` is the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.councils.http import pages


def setup(app: web.Application) -> None:
    pages.setup(app)
