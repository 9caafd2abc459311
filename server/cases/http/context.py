"""The case context of a request, shared by the case API and the case pages: its "now" from the app's clock
(server.clock; tests set it) and the server secret."""

from __future__ import annotations

from aiohttp import web

from server.cases.service import Ctx
from server.services import services


def ctx(request: web.Request) -> Ctx:
    """The case context of a request: "now" from the app's clock, and the server secret."""
    svc = services(request)
    return Ctx(svc.clock.now(), svc.config.secret_key)
