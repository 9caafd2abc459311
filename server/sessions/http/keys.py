"""The sessions feature's injected interfaces, as typed app keys (set by ``server.app.create_app``)."""

from __future__ import annotations

from aiohttp import web

from server.sessions.ports import CaseGate

# The case module's side of sessions-to-cases (server.cases.session_link).
CASE_GATE = web.AppKey("sessions_case_gate", CaseGate)
