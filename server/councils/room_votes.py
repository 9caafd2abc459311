"""Council business from the live room: ballots sent as ``vote`` messages, and members present online.

The room hub (``server.rooms.hub``) calls :func:`cast_from_room` for a validated ``vote`` message from an
admitted peer and sends the answer to that connection only; ballots never go on the room's log. The room
peer's identity (``inv:<nonce>`` from the member's invitation, or ``staff:<id>``) says which member votes.
"""

from __future__ import annotations

from typing import Any

from server.clock import Clock
from server.councils import service
from server.councils.models import Vote
from server.councils.rules import Attendance, CouncilError, MeetingState
from server.councils.service import Ctx
from server.db import Database


async def cast_from_room(db: Database, clock: Clock, secret: bytes, session_id: int, identity: str,
                         msg: dict[str, Any]) -> dict[str, Any]:
    """Count one ballot from the room: ``{"type": "ballot", "vote", "counted": true, "secret", "receipt"}``,
    or ``{"type": "error", "code", "message", "ref": "vote"}`` (the refusal is ledgered by the service)."""
    ctx = Ctx(clock.now(), secret)
    try:  # a vote past its window refuses the ballot (outside_window); the sweeper closes it
        async with service.transaction(db, ctx) as s:
            meeting = await service.meeting_of_session(s, session_id)
            vote = await s.get(Vote, msg["vote"]) if meeting is not None else None
            if meeting is None or vote is None or vote.meeting_id != meeting.id:
                return {"type": "error", "code": "not_found", "message": "no such vote in this meeting", "ref": "vote"}
            member = await service.member_by_identity(s, meeting, identity)
            cast = await service.cast_ballot(s, ctx, vote, member.id if member else None, msg["choice"],
                                             channel="room")
    except CouncilError as e:
        return {"type": "error", "code": e.code, "message": e.message, "ref": "vote"}
    return {"type": "ballot", "vote": cast.vote_id, "counted": True, "secret": cast.secret, "receipt": cast.receipt}


async def attend_from_room(db: Database, clock: Clock, secret: bytes, session_id: int, identity: str,
                           present: bool) -> dict[str, Any] | None:
    """A member's peer entered (or left) the meeting's room: mark them present online (or gone), unless they
    are already marked present in person. Returns the attendance summary, None when nothing changed."""
    async with db.session() as s:
        meeting = await service.meeting_of_session(s, session_id)
        if meeting is None or meeting.state not in (MeetingState.SCHEDULED, MeetingState.OPEN):
            return None
        member = await service.member_by_identity(s, meeting, identity)
        if member is None:
            return None
        ctx = Ctx(clock.now(), secret)
        current = await s.get(service.Attendance, (meeting.id, member.id))
        if current is not None and current.mode == Attendance.IN_PERSON and current.present:
            return None
        await service.record_attendance(s, ctx, None, meeting, member.id, mode=Attendance.ONLINE, present=present)
        out = await service.attendance_summary(s, meeting, ctx.today)
    return out


async def attendance(db: Database, clock: Clock, session_id: int) -> dict[str, Any] | None:
    """The attendance summary of the council meeting held in this room (None: not a council room)."""
    async with db.session() as s:
        meeting = await service.meeting_of_session(s, session_id)
        if meeting is None:
            return None
        return await service.attendance_summary(s, meeting, Ctx(clock.now(), b"").today)


async def sweep(db: Database, clock: Clock, secret: bytes, hub: Any) -> int:
    """Close the votes whose window has passed and tell their rooms (``council_vote``); send the day's overdue
    reminders. Returns how many votes were closed."""
    ctx = Ctx(clock.now(), secret)
    async with service.transaction(db, ctx) as s:
        closed = await service.close_expired_votes(s, ctx)
        await service.remind_overdue(s, ctx)
        news = []
        for v in closed:
            meeting = await s.get(service.Meeting, v.meeting_id)
            if meeting is not None and meeting.session_id is not None:
                news.append((meeting.session_id, {"type": "council_vote",
                                                  "vote": await service.vote_json(s, v, public=True)}))
    if hub is not None:
        for session_id, msg in news:
            await hub.broadcast(session_id, msg)
    return len(closed)
