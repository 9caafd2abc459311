"""Persisting what the recorder reports: one row per segment, and a ledger event in the same transaction.

Ledger event types written here (session chain), each ``data`` documented in docs/ledger.md:
``recording_track``, ``recording_segment``, ``recording_error``, ``recording_resumed``,
``recording_track_ended``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import ledger
from server.db import Database
from server.db.base import utcnow
from server.directory.models import Unit
from server.ledger_store import append
from server.media.segments import SegmentInfo, TrackInfo, WriterStats
from server.recording.models import SEGMENT, Recording, RecordingRun
from server.sessions.models import Session

log = logging.getLogger("concord.recorder")

Alert = Callable[[str, str], Awaitable[None]]


def node_id(port: int | None = None) -> str:
    """This server process's name in ``recordings.node``; stable across a restart on the same port."""
    return os.environ.get("CONCORD_NODE_ID") or f"{socket.gethostname()}:{port or 0}"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


async def next_track_no(s: AsyncSession, session_id: int) -> int:
    got = (await s.execute(select(func.max(Recording.track_no)).where(Recording.session_id == session_id))).scalar()
    return (got or 0) + 1


TRACK_DIR = re.compile(r"track-(\d+)-")


def next_track_on_disk(root: Path, session_id: int) -> int:
    sdir = root / f"session-{session_id}"
    numbers = [int(m.group(1)) for d in (sdir.iterdir() if sdir.is_dir() else []) if (m := TRACK_DIR.match(d.name))]
    return max(numbers, default=0) + 1


async def open_run(s: AsyncSession, session_id: int, node: str, subrooms: list[str]) -> RecordingRun:
    run = RecordingRun(session_id=session_id, node=node, subrooms=sorted(subrooms), status="on")
    s.add(run)
    await s.flush()
    return run


async def take_over_runs(s: AsyncSession, session_id: int, node: str, keep: set[int]) -> list[int]:
    """Close the runs of a recorder whose node died (all ``on`` runs of the session but ``keep``), so that
    node's start-up recovery will not call a session that carried on elsewhere interrupted."""
    runs = list((await s.execute(select(RecordingRun).where(
        RecordingRun.session_id == session_id, RecordingRun.status == "on",
        RecordingRun.id.not_in(keep or {0})))).scalars())
    for run in runs:
        run.status, run.ended_at = "interrupted", utcnow()
        await append(s, ledger.session_chain(session_id), "recording_interrupted", {
            "run": run.id, "node": run.node, "started_at": ledger.format_time(run.started_at),
            "reason": f"the recorder's node stopped answering; recording continues on {node}"})
    return [r.id for r in runs]


async def end_run(s: AsyncSession, run_id: int, status: str = "ended") -> None:
    await s.execute(update(RecordingRun).where(RecordingRun.id == run_id, RecordingRun.status == "on")
                    .values(status=status, ended_at=utcnow()))


def segment_json(track: TrackInfo, seg: SegmentInfo) -> dict:
    return {
        "peer": track.peer, "name": track.peer_name, "kind": track.kind, "track": track.track_no,
        "index": seg.index, "path": seg.path, "sha256": seg.sha256, "bytes": seg.bytes,
        "duration_s": seg.duration_s, "frames": seg.frames, "started_at": seg.started_at, "ended_at": seg.ended_at,
    }


class DbRecordingEvents:
    """``RecordingEvents`` for a live session: rows in ``recordings``, events in the session chain.

    A failure (disk full, unwritable directory) is ledgered and the hosts are alerted once per track
    until that track records again; the session itself carries on.
    """

    def __init__(self, db: Database, session_id: int, node: str, alert: Alert | None = None) -> None:
        self.db = db
        self.session_id = session_id
        self.node = node
        self.alert = alert
        self.chain = ledger.session_chain(session_id)
        self._rows: dict[tuple[int, int], int] = {}
        self._failing: set[int] = set()
        self.closed_segments: deque[tuple[TrackInfo, SegmentInfo]] = deque(maxlen=1000)  # recent, for tests

    async def track_started(self, track: TrackInfo) -> None:
        async with self.db.session() as s:
            await append(s, self.chain, "recording_track", {
                "peer": track.peer, "name": track.peer_name, "role": track.role, "kind": track.kind,
                "codec": track.codec, "track": track.track_no, "track_id": track.track_id,
            })

    async def segment_opened(self, track: TrackInfo, seg: SegmentInfo) -> None:
        async with self.db.session() as s:
            row = self._row(track, seg)
            s.add(row)
            await s.flush()
            self._rows[(track.track_no, seg.index)] = row.id

    def _row(self, track: TrackInfo, seg: SegmentInfo) -> Recording:
        return Recording(
            session_id=track.session_id, artefact=SEGMENT, peer=track.peer, peer_name=track.peer_name,
            role=track.role, kind=track.kind, codec=track.codec, track_no=track.track_no,
            track_id=track.track_id[:100], segment_index=seg.index, path=seg.path, status=seg.status,
            start_offset_s=seg.start_offset_s, started_at=parse_time(seg.started_at), width=seg.width,
            height=seg.height, node=self.node, error=seg.error,
        )

    async def segment_closed(self, track: TrackInfo, seg: SegmentInfo) -> None:
        values = {
            "sha256": seg.sha256, "bytes": seg.bytes, "duration_s": seg.duration_s, "frames": seg.frames,
            "ended_at": parse_time(seg.ended_at), "status": "closed",
        }
        async with self.db.session() as s:
            await self._upsert(s, track, seg, values)
            await append(s, self.chain, "recording_segment", segment_json(track, seg))
        self._rows.pop((track.track_no, seg.index), None)
        self.closed_segments.append((track, seg))
        if track.track_no in self._failing:
            await self.resumed(track)

    async def _upsert(self, s: AsyncSession, track: TrackInfo, seg: SegmentInfo, values: dict) -> None:
        row_id = self._rows.get((track.track_no, seg.index))
        if row_id is None:
            row = self._row(track, seg)
            for k, v in values.items():
                setattr(row, k, v)
            s.add(row)
            await s.flush()
            self._rows[(track.track_no, seg.index)] = row.id
        else:
            await s.execute(update(Recording).where(Recording.id == row_id).values(**values))

    async def failed(self, track: TrackInfo, seg: SegmentInfo | None, error: str) -> None:
        first = track.track_no not in self._failing
        self._failing.add(track.track_no)
        async with self.db.session() as s:
            if seg is not None:
                await self._upsert(s, track, seg, {"status": "failed", "error": error[:500]})
            if first:
                await append(s, self.chain, "recording_error", {
                    "peer": track.peer, "name": track.peer_name, "kind": track.kind, "track": track.track_no,
                    "segment": seg.index if seg else None, "error": error[:300],
                })
        if first and self.alert is not None:
            await self.alert("recording_failed",
                             f"录制失败 / recording failed for {track.peer_name} ({track.kind}): {error[:200]}")

    async def resumed(self, track: TrackInfo) -> None:
        if track.track_no not in self._failing:
            return
        self._failing.discard(track.track_no)
        async with self.db.session() as s:
            await append(s, self.chain, "recording_resumed", {
                "peer": track.peer, "name": track.peer_name, "kind": track.kind, "track": track.track_no})
        if self.alert is not None:
            await self.alert("recording_resumed", f"录制已恢复 / recording resumed for {track.peer_name} ({track.kind})")

    async def track_ended(self, track: TrackInfo, stats: WriterStats, dropped_by_tap: int) -> None:
        async with self.db.session() as s:
            await append(s, self.chain, "recording_track_ended", {
                "peer": track.peer, "name": track.peer_name, "kind": track.kind, "track": track.track_no,
                "stats": asdict(stats), "dropped_by_queue": dropped_by_tap,
            })


async def list_recordings(s: AsyncSession, session_id: int) -> list[Recording]:
    q = select(Recording).where(Recording.session_id == session_id).order_by(
        Recording.artefact, Recording.track_no, Recording.segment_index)
    return list((await s.execute(q)).scalars())


def recording_json(r: Recording) -> dict:
    return {
        "id": r.id, "peer": r.peer, "kind": r.kind, "path": r.path, "sha256": r.sha256, "bytes": r.bytes,
        "duration_s": r.duration_s,
        # additions beyond the contract's fields
        "artefact": r.artefact, "name": r.peer_name, "role": r.role, "codec": r.codec, "track": r.track_no,
        "segment": r.segment_index, "status": r.status, "start_offset_s": r.start_offset_s,
        "started_at": ledger.format_time(r.started_at) if r.started_at else None,
        "ended_at": ledger.format_time(r.ended_at) if r.ended_at else None, "error": r.error,
    }


__all__ = ["DbRecordingEvents", "list_recordings", "node_id", "recording_json", "segment_json", "asdict"]


async def has_segments(s: AsyncSession, session_id: int) -> bool:
    """Whether the session recorded anything (a compose needs segments)."""
    return (await s.execute(select(Recording.id).where(Recording.session_id == session_id,
                                                       Recording.artefact == SEGMENT).limit(1))).first() is not None


async def session_with_unit(s: AsyncSession, session_id: int) -> tuple[Session, Unit] | None:
    """The recorded session and its unit; None when there is no such session."""
    row = (await s.execute(select(Session, Unit).join(Unit, Session.unit_id == Unit.id)
                           .where(Session.id == session_id))).first()
    return (row[0], row[1]) if row is not None else None
