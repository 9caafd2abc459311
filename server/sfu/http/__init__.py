"""WHIP (RFC 9725) and WHEP on the web: ``/whip/<session>`` and ``/whep/<session>`` (``terminals``).
``setup`` is the feature entry point that ``server.app`` calls."""

from __future__ import annotations

from aiohttp import web

from server.sfu.http import terminals


def setup(app: web.Application) -> None:
    terminals.setup(app)
