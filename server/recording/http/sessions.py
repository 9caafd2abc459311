"""The session a recording request is about, when the caller may see it: shared by the recording API and
pages."""

from __future__ import annotations

from aiohttp import web

from server import access
from server.auth import require_actor
from server.directory.models import Unit
from server.errors import not_found
from server.http import now_of, path_id
from server.policy import Actor
from server.recording.store import session_with_unit
from server.services import services
from server.sessions.models import Session
from server.sessions.service import record as session_facts


async def session_and_unit(request: web.Request, sid: int) -> tuple[Session, Unit]:
    async with services(request).db.session() as s:
        row = await session_with_unit(s, sid)
    if row is None:
        raise not_found("no such session")
    return row[0], row[1]


def session_id(request: web.Request) -> int:
    return path_id(request, "id", "no such session")


async def readable_session(request: web.Request, kind: access.Kind = access.Kind.LOG
                           ) -> tuple[Actor, Session, Unit, access.Record]:
    """The session and its record facts when the access policy lets the caller see this part of it; 404
    otherwise (a restricted case's session does not exist for staff off its list)."""
    actor = await require_actor(request)
    sess, unit = await session_and_unit(request, session_id(request))
    async with services(request).db.session() as s:
        rec = await session_facts(s, sess, unit, kind, now_of(request))
    if not access.may(actor, access.Action.VIEW, rec):
        raise not_found("no such session")
    return actor, sess, unit, rec
