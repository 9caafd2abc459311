"""The agreements feature's injected interfaces, as typed app keys (set by ``server.app.create_app``)."""

from __future__ import annotations

from aiohttp import web

from server.agreements.ports import CaseLink

# The case module's side of agreements-to-cases (server.cases.agreement_link).
CASE_LINK = web.AppKey("agreements_case_link", CaseLink)
